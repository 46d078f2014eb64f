/**
 * A child this process did not spawn: the entry script started the CLI's waiting interpreter (prewarm.ts) and then
 * exec'd Node in its own pid, so the interpreter is this process's child but unknown to libuv. Node cannot wait for
 * it; the kernel keeps it as a zombie after it exits (nothing here reaps it, so its pid cannot be reused while this
 * process lives), and its exit status stays readable as root in /proc/<pid>/stat (exit_code, Linux 3.5+). So on
 * each SIGCHLD this reads that, and emits 'exit' (code, signal) as a ChildProcess would. A timer keeps this process
 * running until then (a signal listener does not) and looks once a second as well.
 */
import {EventEmitter} from 'node:events'
import {readFileSync} from 'node:fs'
import {constants} from 'node:os'

import {parseProcStat} from '../core/process-table.js'

/** What /proc/<pid>/stat says of `pid` now; null when it cannot be read. */
function statOf(pid: number): ReturnType<typeof parseProcStat> {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return null
  }
}

const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]))

// eslint-disable-next-line unicorn/prefer-event-target -- it stands in for a ChildProcess, an EventEmitter
export class AdoptedChild extends EventEmitter {
  exitCode: null | number = null
  signalCode: NodeJS.Signals | null = null
  private readonly onChild = () => this.poll()
  private readonly timer: NodeJS.Timeout

  constructor(
    readonly pid: number,
    private readonly signals: Pick<NodeJS.Process, 'on' | 'removeListener'> = process,
  ) {
    super()
    signals.on('SIGCHLD', this.onChild)
    this.timer = setInterval(this.onChild, 1000)
    // It may have ended before this listener was there.
    setImmediate(this.onChild)
  }

  /** This process's child `pid`, or null when it is not (gone, or another process's). */
  static of(pid: number, parent: number = process.pid): AdoptedChild | null {
    return statOf(pid)?.ppid === parent ? new AdoptedChild(pid) : null
  }

  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    if (this.exitCode !== null || this.signalCode !== null) return false
    try {
      process.kill(this.pid, signal)
      return true
    } catch {
      return false
    }
  }

  private poll(): void {
    if (this.exitCode !== null || this.signalCode !== null) return
    const stat = statOf(this.pid)
    if (stat && stat.state !== 'Z' && stat.state !== 'X') return
    // A wait status: code << 8, or the signal in the low 7 bits.
    const status = stat?.exitStatus ?? null
    this.signals.removeListener('SIGCHLD', this.onChild)
    clearInterval(this.timer)
    if (status === null) this.signalCode = 'SIGKILL'
    else if ((status & 0x7f) === 0) this.exitCode = (status >> 8) & 0xff
    else this.signalCode = SIGNAL_NAMES.get(status & 0x7f) ?? 'SIGKILL'
    this.emit('exit', this.exitCode, this.signalCode)
  }
}
