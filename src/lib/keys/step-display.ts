/**
 * Shows a StepReporter's steps to a person: a listr2 list on a terminal, one plain line per finished step
 * otherwise (logs, CI). Also the yes/no question migrate and restore ask before they change anything, and the
 * echo-off prompt `av add` reads a key with.
 */
import {Listr} from 'listr2'
import {createInterface} from 'node:readline'

import type {StepReporter} from '../core/progress.js'
import type {Output} from '../world/process-world.js'

import {AvError} from '../core/errors.js'

interface Deferred {
  promise: Promise<void>
  reject: (error: Error) => void
  resolve: () => void
}

function defer(): Deferred {
  let resolve!: () => void
  let reject!: (error: Error) => void
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  // The lib may fail a step before listr2 awaits it: mark it handled here, listr2 still sees the rejection.
  promise.catch(() => {})
  return {promise, reject, resolve}
}

/** listr2 on a TTY: one task per step, each finishing when the lib reports it done or failed. */
export function listrReporter(): StepReporter {
  let steps: Deferred[] = []
  let running: Promise<unknown> = Promise.resolve()
  return {
    begin(titles) {
      steps = titles.map(() => defer())
      const list = new Listr(
        titles.map((title, i) => ({title, task: () => steps[i]!.promise})),
        {concurrent: false, exitOnError: true, rendererOptions: {collapseErrors: false}},
      )
      running = list.run().catch(() => {})
    },
    start() {},
    done(index) {
      steps[index]?.resolve()
    },
    fail(index, message) {
      steps[index]?.reject(new Error(message))
    },
    async end() {
      await running
    },
  }
}

/** Plain lines for logs: `ok   <step>` / `FAIL <step>: <why>`. */
export function lineReporter(out: Output): StepReporter {
  let titles: string[] = []
  return {
    begin(all) {
      titles = all
    },
    start() {},
    done(index) {
      out.write(`ok   ${titles[index]}\n`)
    },
    fail(index, message) {
      out.write(`FAIL ${titles[index] ?? 'finishing'}: ${message}\n`)
    },
    async end() {},
  }
}

/** Ask a yes/no question on the terminal; only an explicit yes counts. */
export async function askYesNo(question: string): Promise<boolean> {
  const rl = createInterface({input: process.stdin, output: process.stderr})
  const answer = await new Promise<string>((resolve) => {
    rl.question(`${question} [y/N] `, resolve)
  })
  rl.close()
  return /^y(es)?$/i.test(answer.trim())
}

/**
 * Ask one answer per question on the terminal with echo off (raw mode: nothing typed is shown, and Enter, Backspace,
 * Ctrl-U, Ctrl-C and Ctrl-D keep their meaning). One raw session for all questions, so a pasted "id⏎secret⏎" lands
 * in the right answers. Only for a real terminal: a key must never come from argv, a file or the environment.
 */
export async function askHidden(questions: string[], output: Output = process.stderr): Promise<string[]> {
  const input = process.stdin
  if (!input.isTTY) {
    throw new AvError('needs-confirmation', 'there is no terminal to type the key on; nothing was changed', {
      suggestion:
        'Run it in a terminal: av reads keys only as typed, with echo off (never from argv, a file or the environment).',
    })
  }

  const answers: string[] = []
  let current = ''
  output.write(questions[0]!)
  input.setRawMode(true)
  input.setEncoding('utf8')
  input.resume()
  try {
    return await new Promise<string[]>((resolve, reject) => {
      const finish = (error?: Error) => {
        input.off('data', onData)
        if (error) reject(error)
        else resolve(answers)
      }

      function onData(chunk: string): void {
        for (const ch of chunk) {
          if (ch === '\r' || ch === '\n') {
            answers.push(current)
            current = ''
            output.write('\n')
            if (answers.length === questions.length) return finish()
            output.write(questions[answers.length]!)
          } else if (ch === '\u0003' || (ch === '\u0004' && current === '')) {
            output.write('\n')
            return finish(new AvError('denied', 'cancelled; nothing was changed'))
          } else if (ch === '\u007F' || ch === '\b') {
            current = current.slice(0, -1)
          } else if (ch === '\u0015') {
            current = ''
          } else if (ch >= ' ') {
            current += ch
          }
        }
      }

      input.on('data', onData)
    })
  } finally {
    input.setRawMode(false)
    input.pause()
  }
}
