/**
 * `AV_TRACE=1`: each phase of a launcher, helper or root release as one stderr line, `av-trace <who> <phase>
 * +<ms since the previous mark> @<ms since the process started>`, so a slow run shows where its time went. Only
 * timings and phase names are printed, never an argument, value or secret. Without AV_TRACE it costs nothing.
 */
import {performance} from 'node:perf_hooks'

export interface Trace {
  mark(phase: string): void
}

const SILENT: Trace = {mark() {}}

export function traceFrom(env: NodeJS.ProcessEnv, who: string, write: (text: string) => void): Trace {
  if (env.AV_TRACE !== '1') return SILENT
  let last = 0
  return {
    mark(phase) {
      const now = performance.now()
      write(`av-trace ${who} ${phase} +${(now - last).toFixed(1)}ms @${now.toFixed(1)}ms\n`)
      last = now
    },
  }
}
