/**
 * The custody key store: a SecretStore kept in root-owned files, for the custody mode where the durable key is
 * unreadable by the user's own uid (see custody-main.ts). One directory per user, `<custody dir>/<uid>`, 0700
 * root; one 0600 file per account, its name the account in base64url (accounts hold `:`); every write goes to a
 * temp file in the same directory, is fsynced and renamed over the old one. Every operation first checks the
 * trust rule on the directory: a custody dir that root does not solely control is refused, never used.
 */
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeSync,
} from 'node:fs'
import path from 'node:path'

import type {SecretStore} from './secret-store.js'

import {AvError} from '../core/errors.js'
import {checkRootOwned, realTrustFs, type TrustFs} from '../core/trust.js'

const SUFFIX = '.item'

export function accountFileName(account: string): string {
  return Buffer.from(account, 'utf8').toString('base64url') + SUFFIX
}

export function accountOfFileName(name: string): null | string {
  if (!name.endsWith(SUFFIX) || name.startsWith('.')) return null
  return Buffer.from(name.slice(0, -SUFFIX.length), 'base64url').toString('utf8')
}

export class FileCustodyStore implements SecretStore {
  readonly label = 'root custody'
  /** The directory passed the trust rule in this process (see usable). */
  private trusted = false

  constructor(
    /** `<custody dir>/<uid>`: created 0700 on first write; its parent must exist and pass the trust rule. */
    readonly dir: string,
    private readonly fs: TrustFs = realTrustFs,
  ) {}

  async delete(account: string): Promise<boolean> {
    if (!this.usable({create: false})) return false
    try {
      unlinkSync(this.file(account))
      this.syncDir()
      return true
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false
      throw this.unavailable(error)
    }
  }

  async get(account: string): Promise<null | string> {
    if (!this.usable({create: false})) return null
    try {
      return readFileSync(this.file(account), 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw this.unavailable(error)
    }
  }

  async list(): Promise<string[]> {
    if (!this.usable({create: false})) return []
    return readdirSync(this.dir)
      .map((name) => accountOfFileName(name))
      .filter((a): a is string => a !== null)
      .sort()
  }

  async probe(): Promise<void> {
    this.usable({create: true})
  }

  async set(account: string, value: string, options: {durable?: boolean} = {}): Promise<void> {
    this.usable({create: true})
    const durable = options.durable ?? true
    const file = this.file(account)
    const temp = path.join(this.dir, `.${path.basename(file)}.${process.pid}.tmp`)
    try {
      rmSync(temp, {force: true})
      const fd = openSync(temp, 'wx', 0o600)
      try {
        writeSync(fd, value)
        if (durable) fsyncSync(fd)
      } finally {
        closeSync(fd)
      }

      renameSync(temp, file)
      if (durable) this.syncDir()
    } catch (error) {
      rmSync(temp, {force: true})
      throw this.unavailable(error)
    }
  }

  private file(account: string): string {
    return path.join(this.dir, accountFileName(account))
  }

  private syncDir(): void {
    const fd = openSync(this.dir, 'r')
    try {
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
  }

  private unavailable(error: unknown): AvError {
    const reason = error instanceof Error ? error.message.split('\n')[0]!.slice(0, 200) : String(error)
    return new AvError('store-unavailable', `the custody store ${this.dir} cannot be used (${reason})`, {
      cause: error,
      suggestion: 'Run `sudo av install` again to repair the custody directory.',
    })
  }

  /**
   * The directory passes the trust rule (root-owned, not writable by others, all the way up) and is 0700.
   * False when it does not exist yet and `create` is off (nothing stored); throws when it is not trustworthy.
   */
  private usable(options: {create: boolean}): boolean {
    // Once the whole path is root's, only root could change that: one check per store suffices (an audit line
    // costs three store calls, each of which walked the path again).
    if (this.trusted) return true
    const parent = checkRootOwned(path.dirname(this.dir), this.fs, {directory: true})
    if (!parent.ok) throw this.untrusted(`${parent.path} ${parent.reason}`)
    let verdict = checkRootOwned(this.dir, this.fs, {directory: true})
    if (!verdict.ok && verdict.reason === 'does not exist') {
      if (!options.create) return false
      mkdirSync(this.dir, {mode: 0o700})
      verdict = checkRootOwned(this.dir, this.fs, {directory: true})
    }

    if (!verdict.ok) throw this.untrusted(`${verdict.path} ${verdict.reason}`)
    if ((this.fs.stat(this.dir).mode & 0o077) !== 0) throw this.untrusted(`${this.dir} is readable by others`)
    this.trusted = true
    return true
  }

  private untrusted(why: string): AvError {
    return new AvError('store-unavailable', `refusing the custody store: ${why}`, {
      suggestion: 'The custody directory must be root-owned and 0700: run `sudo av install` again.',
    })
  }
}
