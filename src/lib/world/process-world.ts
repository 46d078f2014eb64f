/**
 * What every av process starts from, whatever its kind (a command, the launcher, the credential helper, the root
 * launcher, the custody entry point): the process's own facts and channels. This is the one place below main/ that
 * reads `process` (its environment, ids, streams) and the system clock; each kind's builder in main/ starts here and
 * adds what that kind needs, and everything below takes what it is given.
 */
import {createRequire} from 'node:module'

import {type Clock, systemClock} from '../core/clock.js'
import {type ProcessTable, systemProcessTable} from '../core/process-table.js'
import {realTrustFs, type TrustFs} from '../core/trust.js'

/** Where av writes text for a person: stdout, stderr, or a test's capture. */
export interface Output {
  write(text: string): void
}

export interface ProcessWorld {
  clock: Clock
  env: NodeJS.ProcessEnv
  euid: number
  pid: number
  platform: NodeJS.Platform
  stderr: Output
  stdout: Output
  /** The process table of this platform (/proc on Linux, ps on macOS). */
  table: ProcessTable
  trustFs: TrustFs
  /** Which of the standard streams are terminals. */
  tty: {stderr: boolean; stdin: boolean; stdout: boolean}
  uid: number
}

export function processWorld(): ProcessWorld {
  const {platform} = process
  const uid = process.getuid?.() ?? -1
  let tty: ProcessWorld['tty'] | undefined
  return {
    clock: systemClock,
    env: process.env,
    euid: process.geteuid?.() ?? uid,
    pid: process.pid,
    platform,
    stderr: {write: (text) => process.stderr.write(text)},
    stdout: {write: (text) => process.stdout.write(text)},
    table: systemProcessTable(platform),
    trustFs: realTrustFs,
    // isatty, not process.stdin.isTTY: that getter opens a stream on fd 0 that the helper never reads. Asked on first
    // use: node:tty costs ~4 ms to load, and the helper never asks.
    get tty() {
      if (!tty) {
        const {isatty} = createRequire(import.meta.url)('node:tty') as typeof import('node:tty')
        tty = {stderr: isatty(2), stdin: isatty(0), stdout: isatty(1)}
      }

      return tty
    },
    uid,
  }
}
