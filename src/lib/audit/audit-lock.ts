import type * as nodeFs from 'node:fs'

/**
 * The audit log's lock: several helpers may record at once, so each write takes an exclusive lock file (O_EXCL,
 * bounded backoff, stale locks of dead processes broken under a second lock) around read-head → append →
 * save-head; the chain stays one line of descent and lines never interleave.
 */
import {randomBytes} from 'node:crypto'
import path from 'node:path'

import {AvError} from '../core/errors.js'

export const AUDIT_LOCK = 'audit.lock'
/** A record takes ~80 ms with a real keychain (three store calls); 20 s covers a queue of ~200 writers. */
export const DEFAULT_LOCK_TIMEOUT_MS = 20_000

/** The file-system calls the lock makes (a subset of the log's AuditFs). */
export type LockFs = Pick<
  typeof nodeFs,
  'closeSync' | 'openSync' | 'readFileSync' | 'statSync' | 'unlinkSync' | 'writeSync'
>

export interface AuditLockOptions {
  /** The writing process (process.pid by default): named in the lock as its owner. */
  pid?: number
  /** Give up waiting for the lock after this long (ms). */
  lockTimeoutMs?: number
  /** Whether a process is alive (for stale-lock recovery). */
  isAlive?: (pid: number) => boolean
}

function defaultIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH'
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => {
    setTimeout(resolve, ms)
  })
}

/** The lock file of one audit dir. */
export class AuditLock {
  constructor(
    private readonly dir: string,
    /** The log it guards (named when the lock stays taken). */
    private readonly logFile: string,
    private readonly fs: LockFs,
    private readonly options: AuditLockOptions = {},
  ) {}

  /** Take the lock file; returns its release. Waits with bounded backoff; breaks locks of dead processes. */
  async take(): Promise<() => void> {
    const file = path.join(this.dir, AUDIT_LOCK)
    const owner = `${this.options.pid ?? process.pid} ${randomBytes(8).toString('hex')}`
    const deadline = Date.now() + (this.options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS)
    let delay = 1
    for (;;) {
      if (this.tryCreate(file, owner)) {
        return () => {
          try {
            if (this.fs.readFileSync(file, 'utf8') === owner) this.fs.unlinkSync(file)
          } catch {}
        }
      }

      this.breakIfStale(file)
      if (Date.now() > deadline) {
        throw new AvError('audit-failed', `the audit log ${this.logFile} stayed locked by another process (${file})`, {
          suggestion: `If no av process is running, delete ${file}.`,
        })
      }

      // eslint-disable-next-line no-await-in-loop -- a bounded retry: each try depends on the previous one
      await sleep(delay + Math.random() * delay)
      delay = Math.min(delay * 2, 50)
    }
  }

  private tryCreate(file: string, content: string): boolean {
    let fd: number
    try {
      fd = this.fs.openSync(file, 'wx', 0o600)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
      throw error
    }

    try {
      this.fs.writeSync(fd, content)
    } finally {
      this.fs.closeSync(fd)
    }

    return true
  }

  /**
   * A lock whose owner is dead is removed — under a second, short-lived lock, and only if it still holds the
   * content we judged stale, so two waiters never remove each other's fresh lock. A lock with no readable owner
   * (its creator died between open and write) is stale after 5 s; so is a breaker lock.
   */
  private breakIfStale(file: string): void {
    const isAlive = this.options.isAlive ?? defaultIsAlive
    const seen = this.readLock(file)
    if (seen === null) return
    const pid = Number(seen.content.split(' ')[0])
    const stale = Number.isInteger(pid) && pid > 0 ? !isAlive(pid) : Date.now() - seen.mtimeMs > 5000
    if (!stale) return
    const breaker = `${file}.break`
    if (!this.tryCreate(breaker, String(process.pid))) {
      const old = this.readLock(breaker)
      if (old && Date.now() - old.mtimeMs > 5000) this.unlinkQuietly(breaker)
      return
    }

    try {
      if (this.readLock(file)?.content === seen.content) this.unlinkQuietly(file)
    } finally {
      this.unlinkQuietly(breaker)
    }
  }

  private readLock(file: string): {content: string; mtimeMs: number} | null {
    try {
      return {content: this.fs.readFileSync(file, 'utf8'), mtimeMs: this.fs.statSync(file).mtimeMs}
    } catch {
      return null
    }
  }

  private unlinkQuietly(file: string): void {
    try {
      this.fs.unlinkSync(file)
    } catch {}
  }
}
