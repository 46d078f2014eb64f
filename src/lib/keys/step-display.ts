/**
 * Shows a StepReporter's steps to a person: a listr2 list on a terminal, one plain line per finished step
 * otherwise (logs, CI). Also the yes/no question migrate and restore ask before they change anything.
 */
import {Listr} from 'listr2'
import {createInterface} from 'node:readline'

import type {StepReporter} from '../core/progress.js'
import type {Output} from '../world/process-world.js'

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
