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

/** What `av rotate` shows on a terminal while it works: one line per profile, its steps beneath. */
export interface ProfileProgress {
  /** A step of `profile` happened (`last`: the profile is done). Starts the display on the first call. */
  step(profiles: string[], profile: string, text: string, last: boolean): void
  /** Resolves once the display has finished drawing; marks the profile under way as failed. */
  end(error?: Error): Promise<void>
}

/** listr2: a task per profile whose output lists its steps as they happen, ✔ once the profile is done. */
export function listrProfiles(): ProfileProgress {
  const entries = new Map<string, {deferred: Deferred; lines: string[]; task?: {output: string}}>()
  let running: null | Promise<unknown> = null
  return {
    step(profiles, profile, text, last) {
      if (running === null) {
        for (const p of profiles) entries.set(p, {deferred: defer(), lines: []})
        const list = new Listr(
          profiles.map((p) => ({
            rendererOptions: {bottomBar: Infinity, persistentOutput: true},
            task(_ctx: unknown, task: {output: string}) {
              const entry = entries.get(p)!
              entry.task = task
              if (entry.lines.length > 0) task.output = entry.lines.join('\n')
              return entry.deferred.promise
            },
            title: `Rotate the key of ${p}`,
          })),
          {concurrent: false, exitOnError: true, rendererOptions: {collapseErrors: false}},
        )
        running = list.run().catch(() => {})
      }

      const entry = entries.get(profile)
      if (!entry) return
      entry.lines.push(text)
      if (entry.task) entry.task.output = entry.lines.join('\n')
      if (last) entry.deferred.resolve()
    },
    async end(error) {
      for (const entry of entries.values()) {
        if (error) entry.deferred.reject(error)
        else entry.deferred.resolve()
      }

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
  // Echo goes off before the question shows, so nothing typed at the prompt can be echoed.
  input.setRawMode(true)
  input.setEncoding('utf8')
  input.resume()
  output.write(questions[0]!)
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
