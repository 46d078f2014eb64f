import type {ChildProcess} from 'node:child_process'

import {EventEmitter} from 'node:events'

/** A child process that exits when the test says: what spawnAsUser and the password prompt return. */
// eslint-disable-next-line unicorn/prefer-event-target -- a ChildProcess is an EventEmitter
export class FakeChild extends EventEmitter {
  exitCode: null | number = null
  /** It reported a spawn error (`error`) instead of exiting. */
  failed = false
  /** The signals sent to it (kill), in order. */
  readonly kills: NodeJS.Signals[] = []
  signalCode: NodeJS.Signals | null = null

  get child(): ChildProcess {
    return this as unknown as ChildProcess
  }

  exit(code: null | number, signal: NodeJS.Signals | null = null): void {
    this.exitCode = code
    this.signalCode = signal
    this.emit('exit', code, signal)
  }

  fail(error: Error): void {
    this.failed = true
    this.emit('error', error)
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    this.kills.push(signal)
    return true
  }
}
