/**
 * The audit trail: append-only JSON lines under the state dir, one per release, refusal and gate decision,
 * written *before* a secret is released. Never a secret, token or signature in it (see audit-scrub.ts).
 *
 * FileAuditLog is the writer: under the lock (audit-lock.ts) it reads the chain head, appends the next chained
 * line (audit-chain.ts) and saves the head, rotating by size first (audit-rotation.ts).
 */
import * as nodeFs from 'node:fs'
import path from 'node:path'

import type {SecretStore} from '../store/secret-store.js'

import {AvError} from '../core/errors.js'
import {
  AUDIT_HEAD_ACCOUNT,
  chainedLine,
  type ChainHead,
  GENESIS,
  loadAuditKey,
  macOf,
  parseHead,
  sha256Hex,
} from './audit-chain.js'
import {AuditLock, type AuditLockOptions} from './audit-lock.js'
import {AUDIT_FILE, auditFileName, DEFAULT_KEEP, DEFAULT_MAX_BYTES, rotateAuditFiles} from './audit-rotation.js'
import {scrubValue} from './audit-scrub.js'

/** Every event a log line may name (`approval`, `checkout` and `custody-remove` only in root custody's own log). */
export const AUDIT_EVENTS = [
  'add',
  'approval',
  'checkout',
  'custody-remove',
  'gate',
  'install',
  'migrate',
  'refusal',
  'release',
  'restore',
  'rotate',
  'run',
  'session-clear',
  'sso-login',
  'sso-logout',
  'uninstall',
] as const
export type AuditEventName = (typeof AUDIT_EVENTS)[number]

export interface AuditEvent {
  event: AuditEventName
  /** Every other field is non-secret context: profile, reason code, decision, argv hash, process chain… */
  [field: string]: unknown
}

export interface AuditSink {
  /** Resolves once the line is durably written; rejects with `audit-failed` otherwise. */
  record(event: AuditEvent): Promise<void>
}

/** One process in the chain of who asked: the writer first, then its parent, grandparent… */
export interface ChainLink {
  name: string
  pid: number
}

/** Fields the log owns; a caller's values for them are ignored. */
const RESERVED = new Set(['mac', 'prev', 'seq', 'time', 'unkeyed'])
/** Longest string kept in a field; longer values are cut (lines stay far below the tail-read window). */
const MAX_STRING = 4096
const TAIL_WINDOW = 256 * 1024

/** The file-system calls the log makes, so tests can make any of them fail. */
export type AuditFs = Pick<
  typeof nodeFs,
  | 'chmodSync'
  | 'closeSync'
  | 'fstatSync'
  | 'fsyncSync'
  | 'mkdirSync'
  | 'openSync'
  | 'readdirSync'
  | 'readFileSync'
  | 'readSync'
  | 'renameSync'
  | 'statSync'
  | 'unlinkSync'
  | 'writeSync'
>

export interface AuditLogOptions extends AuditLockOptions {
  /** Holds the chain key and head. Without one the lines are chained but unkeyed (verify reports them). */
  store?: SecretStore
  /** Who asked, when the caller does not pass a `chain` field (e.g. a /proc walk from the writing process). */
  processChain?: (pid: number) => ChainLink[]
  /** Rotate when the current file would grow past this many bytes. */
  maxBytes?: number
  /** How many rotated files to keep. */
  keep?: number
  fs?: AuditFs
}

/** Default process chain on Linux: names and pids from /proc/<pid>/stat, up to `depth` processes. */
export function procProcessChain(
  pid: number,
  readFile: (p: string) => string = (p) => nodeFs.readFileSync(p, 'utf8'),
  depth = 8,
): ChainLink[] {
  const chain: ChainLink[] = []
  let current = pid
  while (current > 0 && chain.length < depth) {
    let stat: string
    try {
      stat = readFile(`/proc/${current}/stat`)
    } catch {
      break
    }

    // pid (comm) state ppid …  — comm may hold spaces and parentheses: cut at the last ')'.
    const open = stat.indexOf('(')
    const close = stat.lastIndexOf(')')
    if (open === -1 || close < open) break
    chain.push({name: stat.slice(open + 1, close), pid: current})
    const ppid = Number(stat.slice(close + 2).split(' ')[1])
    if (!Number.isInteger(ppid) || ppid === current) break
    current = ppid
  }

  return chain
}

function cutLongStrings(value: unknown): unknown {
  if (typeof value === 'string') return value.length > MAX_STRING ? value.slice(0, MAX_STRING) + '…[cut]' : value
  if (Array.isArray(value)) return value.map((v) => cutLongStrings(v))
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, cutLongStrings(v)]))
  }

  return value
}

interface Tail {
  /** The last chained line, or null when the log is empty. */
  last: ChainHead | null
  /** Whether the current file ends in the middle of a line (a torn write): the next line starts on a new one. */
  needsNewline: boolean
  /** Bytes in the current file. */
  size: number
}

export class FileAuditLog implements AuditSink {
  readonly file: string
  private readonly fs: AuditFs
  private readonly keep: number
  private readonly lock: AuditLock
  private readonly maxBytes: number
  private queue: Promise<void> = Promise.resolve()
  /** The chain key once read: it never changes, so a launcher's second line costs the store one call fewer. */
  private key: Buffer | null = null

  constructor(
    readonly dir: string,
    private readonly now: () => number = Date.now,
    private readonly options: AuditLogOptions = {},
  ) {
    this.file = path.join(dir, AUDIT_FILE)
    this.fs = options.fs ?? nodeFs
    this.keep = options.keep ?? DEFAULT_KEEP
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES
    this.lock = new AuditLock(dir, this.file, this.fs, options)
  }

  async record(event: AuditEvent): Promise<void> {
    const fields = this.prepare(event)
    // One write at a time within this process; the lock file orders us against other processes.
    const run = this.queue.then(() => this.write(fields))
    this.queue = run.catch(() => {})
    return run
  }

  /** The fields of a line, scrubbed and with the writer's pid and chain; seq/prev/mac come under the lock. */
  private prepare(event: AuditEvent): Record<string, unknown> {
    const pid = this.options.pid ?? process.pid
    const raw: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(event)) {
      if (!RESERVED.has(key) && value !== undefined) raw[key] = value
    }

    const {event: name, ...rest} = raw
    const fields: Record<string, unknown> = {event: name, pid: rest.pid ?? pid}
    delete rest.pid
    if (rest.chain === undefined && this.options.processChain) {
      try {
        fields.chain = this.options.processChain(pid)
      } catch {
        fields.chain = []
      }
    }

    Object.assign(fields, rest)
    const {redacted, value} = scrubValue(cutLongStrings(fields))
    const out = value as Record<string, unknown>
    if (redacted.length > 0) out.redacted = redacted
    return out
  }

  private async write(fields: Record<string, unknown>): Promise<void> {
    let release: (() => void) | undefined
    try {
      this.ensureDir()
      release = await this.lock.take()
      const {head, key, unkeyed} = await this.chainState()
      const tail = this.readTail()
      // Chain on from the file, unless the store's head is ahead of it (a truncated tail): then chain on from the
      // head, so the gap stays in the file for `av log --verify` to report.
      const from = head && (!tail.last || head.seq > tail.last.seq) ? head : tail.last
      const seq = (from?.seq ?? 0) + 1
      const body = JSON.stringify({
        time: new Date(this.now()).toISOString(),
        seq,
        ...fields,
        ...(unkeyed ? {unkeyed} : {}),
        prev: from?.hash ?? GENESIS,
      })
      const line = key ? body.slice(0, -1) + `,"mac":"${macOf(key, body)}"}` : body
      const bytes = Buffer.byteLength(line) + 1
      let {needsNewline} = tail
      if (tail.size > 0 && tail.size + bytes > this.maxBytes) {
        rotateAuditFiles(this.dir, this.keep, this.fs)
        needsNewline = false
      }

      this.append((needsNewline ? '\n' : '') + line + '\n')
      // The line is on disk (append fsyncs it) before the head names it, so a head lost to a power cut is only ever
      // behind the file, which verify accepts: the head need not be flushed itself (two fsyncs fewer per line).
      if (key) {
        const head = JSON.stringify({seq, hash: sha256Hex(line)})
        await this.options.store!.set(AUDIT_HEAD_ACCOUNT, head, {durable: false})
      }
    } catch (error) {
      throw this.failure(error)
    } finally {
      release?.()
    }
  }

  /**
   * The chain key and head from the secret store. When the store cannot be used (locked, no D-Bus) the line is
   * still written — a refusal while the keychain is locked is worth keeping — but marked `unkeyed` and without a
   * mac: verify accepts such lines only after the last keyed head and reports them as not tamper-evident.
   */
  private async chainState(): Promise<{
    head: ChainHead | null
    key: Buffer | null
    unkeyed?: 'no-store' | 'store-unavailable'
  }> {
    const {store} = this.options
    if (!store) return {head: null, key: null, unkeyed: 'no-store'}
    try {
      this.key ??= await loadAuditKey(store, {create: true})
      return {head: parseHead(await store.get(AUDIT_HEAD_ACCOUNT)), key: this.key}
    } catch (error) {
      if (error instanceof AvError && error.code === 'store-unavailable') {
        return {head: null, key: null, unkeyed: 'store-unavailable'}
      }

      throw error
    }
  }

  /** Every failure to record is `audit-failed`: the caller must not release what it could not record. */
  private failure(error: unknown): AvError {
    if (error instanceof AvError && error.code === 'audit-failed') return error
    const reason = (error as Error).message.split('\n')[0]!.slice(0, 200)
    return new AvError('audit-failed', `the audit log ${this.file} cannot be written (${reason})`, {
      cause: error,
      suggestion:
        error instanceof AvError && error.suggestion
          ? error.suggestion
          : `Make ${this.dir} writable by you (av refuses to release credentials it cannot record).`,
    })
  }

  /** The state dir exists and is 0700 (an existing dir of ours that others can enter is tightened). */
  private ensureDir(): void {
    this.fs.mkdirSync(this.dir, {mode: 0o700, recursive: true})
    const {mode, uid} = this.fs.statSync(this.dir)
    if ((mode & 0o077) !== 0 && uid === process.getuid?.()) this.fs.chmodSync(this.dir, 0o700)
  }

  private append(text: string): void {
    const fd = this.fs.openSync(
      this.file,
      nodeFs.constants.O_WRONLY | nodeFs.constants.O_APPEND | nodeFs.constants.O_CREAT,
      0o600,
    )
    try {
      const buffer = Buffer.from(text)
      const written = this.fs.writeSync(fd, buffer)
      if (written !== buffer.length) throw new Error(`short write (${written} of ${buffer.length} bytes)`)
      this.fs.fsyncSync(fd)
    } finally {
      this.fs.closeSync(fd)
    }
  }

  /** The last chained line of the log (current file, else the newest rotated one) and the current file's size. */
  private readTail(): Tail {
    let size = 0
    let needsNewline = false
    for (const [index, name] of [AUDIT_FILE, auditFileName(1)].entries()) {
      const {lastByte, text, total} = this.readEnd(path.join(this.dir, name))
      if (index === 0) {
        size = total
        needsNewline = total > 0 && lastByte !== 0x0a
      }

      const lines = text.split('\n')
      for (let i = lines.length - 1; i >= 0; i--) {
        const last = chainedLine(lines[i]!)
        if (last) return {last, needsNewline, size}
      }
    }

    return {last: null, needsNewline, size}
  }

  private readEnd(file: string): {lastByte: number; text: string; total: number} {
    let fd: number
    try {
      fd = this.fs.openSync(file, 'r')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {lastByte: -1, text: '', total: 0}
      throw error
    }

    try {
      const total = this.fs.fstatSync(fd).size
      const length = Math.min(total, TAIL_WINDOW)
      const buffer = Buffer.alloc(length)
      let got = 0
      while (got < length) {
        const n = this.fs.readSync(fd, buffer, got, length - got, total - length + got)
        if (n === 0) break
        got += n
      }

      return {lastByte: got > 0 ? buffer[got - 1]! : -1, text: buffer.subarray(0, got).toString('utf8'), total}
    } finally {
      this.fs.closeSync(fd)
    }
  }
}
