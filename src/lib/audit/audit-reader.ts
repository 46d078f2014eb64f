/**
 * Reading the audit trail for `av log`: filter (since, profile, event), format as a table row or a JSON line,
 * and follow the current file as it grows and rotates (poll: fs.watch misses renames on some file systems).
 */
import * as nodeFs from 'node:fs'
import path from 'node:path'

import {AvError} from '../core/errors.js'
import {AUDIT_FILE, listAuditFiles} from './audit-rotation.js'

export interface AuditEntry {
  [field: string]: unknown
  event: string
  time: string
}

export interface AuditFilter {
  event?: string
  profile?: string
  /** Milliseconds since the epoch: entries older than this are skipped. */
  since?: number
}

const UNITS: Record<string, number> = {d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, w: 604_800_000}

/** `--since`: a duration back from now (`90s`, `15m`, `2h`, `1d`, `1w`, `1h30m`) or a date/time (`2026-11-28T10:00Z`). */
export function parseSince(text: string, nowMs: number): number {
  const trimmed = text.trim()
  if (/^(?:\d+[smhdw])+$/.test(trimmed)) {
    let ms = 0
    for (const [, amount, unit] of trimmed.matchAll(/(\d+)([smhdw])/g)) ms += Number(amount) * UNITS[unit!]!
    return nowMs - ms
  }

  const at = Date.parse(trimmed)
  if (Number.isFinite(at) && /\d{4}-\d{2}-\d{2}/.test(trimmed)) return at
  throw new AvError('usage', `--since ${JSON.stringify(text)} is neither a duration nor a date/time`, {
    suggestion: 'Use a duration such as 15m, 2h, 1d or 1h30m, or a time such as 2026-11-28T10:00:00Z.',
  })
}

export function matchesFilter(entry: AuditEntry, filter: AuditFilter): boolean {
  if (filter.event !== undefined && entry.event !== filter.event) return false
  if (filter.profile !== undefined && entry.profile !== filter.profile) return false
  if (filter.since !== undefined) {
    const at = Date.parse(entry.time)
    if (!Number.isFinite(at) || at < filter.since) return false
  }

  return true
}

/** Parse one line of the log; null for anything that is not an audit entry (a torn or foreign line). */
export function parseEntry(line: string): AuditEntry | null {
  if (!line.startsWith('{')) return null
  try {
    const value = JSON.parse(line) as Partial<AuditEntry>
    if (typeof value.event === 'string' && typeof value.time === 'string') return value as AuditEntry
  } catch {}

  return null
}

/** Every entry in the log (rotated files first, oldest first) that passes the filter. */
export function readAuditEntries(
  dir: string,
  filter: AuditFilter = {},
  fs: Pick<typeof nodeFs, 'readdirSync' | 'readFileSync'> = nodeFs,
): AuditEntry[] {
  const entries: AuditEntry[] = []
  for (const {name} of listAuditFiles(dir, fs)) {
    let text: string
    try {
      text = fs.readFileSync(path.join(dir, name), 'utf8')
    } catch (error) {
      // Rotated away between listing and reading: its lines are in the next file name now, or gone by policy.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue
      throw error
    }

    for (const line of text.split('\n')) {
      const entry = parseEntry(line)
      if (entry && matchesFilter(entry, filter)) entries.push(entry)
    }
  }

  return entries
}

function text(value: unknown): string {
  if (value === undefined || value === null) return ''
  return typeof value === 'string' ? value : JSON.stringify(value)
}

/** decision / reason column: what happened, in a few words. */
export function outcomeOf(entry: AuditEntry): string {
  if (entry.decision !== undefined) {
    const parts = [text(entry.decision), text(entry.category)]
    if (entry.approver !== undefined && entry.approver !== null) {
      parts.push(`via ${text(entry.approver)}: ${text(entry.answer)}`)
    }

    return parts.filter(Boolean).join(' ')
  }

  if (entry.event === 'refusal') return `refused: ${text(entry.reason)}`
  if (entry.event === 'release') {
    const expires = text(entry.expiration ?? entry.expires)
    const parts = [
      text(entry.kind ?? entry.credentials) || 'released',
      entry.elevated ? 'elevated' : '',
      entry.cached ? '(cached)' : '',
      // Same-day expiry as a time of day: the column is narrow.
      expires
        ? `until ${expires.startsWith(entry.time.slice(0, 11)) ? expires.slice(11).replace('.000Z', 'Z') : expires}`
        : '',
    ]
    return parts.filter(Boolean).join(' ')
  }

  if (entry.event === 'run' && entry.exitCode !== undefined) return `exit ${text(entry.exitCode)}`
  if (Array.isArray(entry.cleared)) return `cleared ${entry.cleared.map((c) => text(c)).join(', ') || 'nothing'}`
  if (Array.isArray(entry.profiles)) return entry.profiles.map((p) => text(p)).join(', ')
  return text(entry.reason ?? entry.outcome ?? entry.result)
}

/** command column: the shell-quoted command when recorded, else the argv hash. */
export function commandOf(entry: AuditEntry): string {
  if (typeof entry.command === 'string') return entry.command
  if (Array.isArray(entry.argv)) return entry.argv.map((a) => text(a)).join(' ')
  if (typeof entry.service === 'string') return ['aws', entry.service, text(entry.operation)].join(' ').trimEnd()
  if (typeof entry.argvHash === 'string') return `argv sha256 ${entry.argvHash.slice(0, 12)}…`
  return ''
}

const COLUMNS = [
  {title: 'TIME', width: 22},
  {title: 'EVENT', width: 15},
  {title: 'PROFILE', width: 14},
  {title: 'DECISION/REASON', width: 34},
  {title: 'COMMAND', width: 0},
]

function row(cells: string[]): string {
  return cells
    .map((cell, i) => {
      const {width} = COLUMNS[i]!
      return width === 0 ? cell : cell.length >= width ? cell.slice(0, width - 2) + '… ' : cell.padEnd(width)
    })
    .join('')
    .trimEnd()
}

export function formatAuditHeader(): string {
  return row(COLUMNS.map((c) => c.title))
}

/** One table row (fixed widths, so a followed log lines up without knowing what comes next). */
export function formatAuditRow(entry: AuditEntry): string {
  const time = entry.time.replace('T', ' ').replace(/\.\d+Z$/, 'Z')
  return row([time, entry.event, text(entry.profile), outcomeOf(entry), commandOf(entry)])
}

export interface FollowOptions {
  fs?: Pick<
    typeof nodeFs,
    'closeSync' | 'fstatSync' | 'openSync' | 'readdirSync' | 'readFileSync' | 'readSync' | 'statSync'
  >
  /** Poll interval in ms. */
  intervalMs?: number
  /** Print at most this many of the existing entries first (all when undefined). */
  last?: number
  signal: AbortSignal
}

interface Cursor {
  fd: null | number
  ino: number
  partial: Buffer
  pos: number
}

/**
 * Emit the existing entries that pass the filter (the last `last` of them), then every new one as it is
 * appended, until `signal` aborts. Rotation (audit.jsonl renamed, a new one created) is followed: the old file
 * is read to its end before the new one is opened.
 */
export async function followAuditLog(
  dir: string,
  filter: AuditFilter,
  onEntry: (entry: AuditEntry) => void,
  options: FollowOptions,
): Promise<void> {
  const fs = options.fs ?? nodeFs
  const file = path.join(dir, AUDIT_FILE)
  const cursor: Cursor = {fd: null, ino: -1, partial: Buffer.alloc(0), pos: 0}
  const emit = (lines: string[]) => {
    for (const line of lines) {
      const entry = parseEntry(line)
      if (entry && matchesFilter(entry, filter)) onEntry(entry)
    }
  }

  // Existing entries: rotated files whole, then the current file through the cursor so nothing slips between.
  const older = listAuditFiles(dir, fs).filter((f) => f.index > 0)
  const existing = readAuditEntries(dir, filter, {
    readdirSync: () => older.map((f) => f.name) as never,
    readFileSync: fs.readFileSync,
  })
  openCurrent(fs, file, cursor)
  for (const line of drain(fs, cursor)) {
    const entry = parseEntry(line)
    if (entry && matchesFilter(entry, filter)) existing.push(entry)
  }

  for (const entry of options.last === undefined ? existing : existing.slice(-options.last)) onEntry(entry)

  try {
    while (!options.signal.aborted) {
      // eslint-disable-next-line no-await-in-loop -- polling: one wait per round
      await wait(options.intervalMs ?? 250, options.signal)
      emit(drain(fs, cursor))
      let ino = -1
      try {
        ino = fs.statSync(file).ino
      } catch {}

      if (ino !== cursor.ino) {
        // Rotated (or first created): finish the old file, read whole any file rotated in after it (several
        // rotations may happen between two polls), then start the new current file from its first byte.
        emit(drain(fs, cursor))
        if (cursor.fd !== null) {
          fs.closeSync(cursor.fd)
          emit(rotatedSince(fs, dir, cursor.ino))
        }

        cursor.fd = null
        cursor.partial = Buffer.alloc(0)
        openCurrent(fs, file, cursor)
        emit(drain(fs, cursor))
      }
    }
  } finally {
    if (cursor.fd !== null) fs.closeSync(cursor.fd)
  }
}

/** Lines of the rotated files newer than the one with inode `ino` (oldest first); none when it is gone. */
function rotatedSince(fs: NonNullable<FollowOptions['fs']>, dir: string, ino: number): string[] {
  const rotated = listAuditFiles(dir, fs).filter((f) => f.index > 0)
  const at = rotated.findIndex((f) => {
    try {
      return fs.statSync(path.join(dir, f.name)).ino === ino
    } catch {
      return false
    }
  })
  if (at === -1) return []
  return rotated.slice(at + 1).flatMap((f) => {
    try {
      return fs.readFileSync(path.join(dir, f.name), 'utf8').split('\n')
    } catch {
      return []
    }
  })
}

function openCurrent(fs: NonNullable<FollowOptions['fs']>, file: string, cursor: Cursor): void {
  try {
    cursor.fd = fs.openSync(file, 'r')
    cursor.ino = fs.fstatSync(cursor.fd).ino
    cursor.pos = 0
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    cursor.fd = null
    cursor.ino = -1
  }
}

/** Complete lines appended since the last read (a trailing partial line waits for its newline). */
function drain(fs: NonNullable<FollowOptions['fs']>, cursor: Cursor): string[] {
  if (cursor.fd === null) return []
  const {size} = fs.fstatSync(cursor.fd)
  if (size < cursor.pos) {
    // Truncated in place: start over.
    cursor.pos = 0
    cursor.partial = Buffer.alloc(0)
  }

  if (size === cursor.pos) return []
  const buffer = Buffer.alloc(size - cursor.pos)
  let got = 0
  while (got < buffer.length) {
    const n = fs.readSync(cursor.fd, buffer, got, buffer.length - got, cursor.pos + got)
    if (n === 0) break
    got += n
  }

  cursor.pos += got
  // Keep bytes after the last newline as bytes: a read may end inside a line, even inside a UTF-8 sequence.
  const bytes = Buffer.concat([cursor.partial, buffer.subarray(0, got)])
  const end = bytes.lastIndexOf(0x0a)
  cursor.partial = Buffer.from(bytes.subarray(end + 1))
  return end === -1 ? [] : bytes.subarray(0, end).toString('utf8').split('\n')
}

function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }

    signal.addEventListener('abort', done, {once: true})
  })
}
