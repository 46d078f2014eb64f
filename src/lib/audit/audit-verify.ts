/**
 * `av log --verify`: walk the whole chain, oldest rotated file first, and report the first line that breaks it.
 *
 * What each kind of tampering looks like:
 * - an edited line: its mac no longer matches (and the next line's `prev` no longer matches its hash);
 * - a deleted line or rotated file: a gap in `seq` where the next surviving line is;
 * - reordered lines: a `seq` that is not the next one while the expected one comes later;
 * - a truncated tail: the secret store's chain head is ahead of the last line (or differs from that line);
 * - forged lines (without the key): a mac mismatch.
 * Rotation drops the oldest file once `keep` rotated files exist, so the oldest surviving line may legitimately
 * start past seq 1 — only then.
 */
import * as nodeFs from 'node:fs'
import path from 'node:path'

import type {SecretStore} from '../store/secret-store.js'

import {AUDIT_HEAD_ACCOUNT, GENESIS, loadAuditKey, macOf, parseHead, sha256Hex, splitMac} from './audit-chain.js'
import {AUDIT_FILE, DEFAULT_KEEP, listAuditFiles} from './audit-rotation.js'

export interface BrokenLine {
  /** File name inside the audit dir (e.g. audit.1.jsonl). */
  file: string
  /** 1-based line number in that file. */
  line: number
  problem: string
}

export interface VerifyResult {
  ok: boolean
  /** Lines checked (across all files). */
  lines: number
  files: string[]
  firstBroken?: BrokenLine
  /**
   * Lines written without the audit key (the keychain was unavailable) after the last keyed line: chained, but
   * nothing keyed vouches for them, so they are not tamper-evident. Unkeyed lines followed by a keyed one are
   * covered by its mac through `prev`.
   */
  unprotected?: {count: number; first: {file: string; line: number}}
}

interface Line {
  file: string
  hash: string
  line: number
  seq: null | number
  text: string
  /** Marked as written without the key (and carries no mac). */
  unkeyed: boolean
}

export interface VerifyOptions {
  fs?: Pick<typeof nodeFs, 'readdirSync' | 'readFileSync'>
  /** The writer's `keep` (how many rotated files exist once the oldest start being dropped). */
  keep?: number
}

function readLines(dir: string, files: string[], fs: Pick<typeof nodeFs, 'readFileSync'>): Line[] {
  const lines: Line[] = []
  for (const file of files) {
    const text = fs.readFileSync(path.join(dir, file), 'utf8')
    const parts = text.split('\n')
    // A file ends with a newline; anything after the last one is a torn or appended fragment, checked like a line.
    if (parts.at(-1) === '') parts.pop()
    for (const [i, part] of parts.entries()) {
      let seq: null | number = null
      let unkeyed = false
      try {
        const value = JSON.parse(part) as {seq?: unknown; unkeyed?: unknown}
        if (typeof value.seq === 'number' && Number.isInteger(value.seq)) seq = value.seq
        unkeyed = typeof value.unkeyed === 'string'
      } catch {}

      lines.push({file, hash: sha256Hex(part), line: i + 1, seq, text: part, unkeyed})
    }
  }

  return lines
}

/** What is wrong with `line` given the line before it, or null when it continues the chain. */
function lineProblem(
  line: Line,
  previous: Line | null,
  {expired, key, later}: {expired: boolean; key: Buffer | null; later: Line[]},
): null | string {
  const {body, mac} = splitMac(line.text)
  if (line.seq === null) return 'not an audit line (unparsable or without seq)'
  if (mac === null) {
    if (!line.unkeyed) return 'the line has no mac (edited, or written without the audit key)'
  } else {
    if (!key) return 'the audit key is missing from the secret store, so no keyed line can be checked'
    if (macOf(key, body) !== mac) return 'mac mismatch: the line was edited or forged'
  }

  const expected = previous ? previous.seq! + 1 : expired ? null : 1
  if (expected !== null && line.seq !== expected) {
    if (line.seq < expected)
      return `out of order: seq ${line.seq} after seq ${previous?.seq} (lines reordered or duplicated)`
    if (later.some((l) => l.seq === expected))
      return `out of order: expected seq ${expected}, found ${line.seq} (lines reordered)`
    if (!previous) return `the log starts at seq ${line.seq}: earlier lines or rotated files were deleted`
    const what = line.file === previous.file ? 'line(s) deleted' : 'line(s) deleted or a rotated file deleted'
    return `seq gap: expected ${expected}, found ${line.seq} (${what})`
  }

  const {prev} = JSON.parse(line.text) as {prev?: unknown}
  const expectedPrev = previous ? previous.hash : expected === 1 ? GENESIS : null
  if (expectedPrev !== null && prev !== expectedPrev) return 'prev mismatch: the line before it was changed or removed'
  return null
}

export async function verifyAuditLog(
  dir: string,
  store: SecretStore,
  options: VerifyOptions = {},
): Promise<VerifyResult> {
  const fs = options.fs ?? nodeFs
  const keep = options.keep ?? DEFAULT_KEEP
  const present = listAuditFiles(dir, fs)
  const files = present.map((f) => f.name)
  const lines = readLines(dir, files, fs)
  const head = parseHead(await store.get(AUDIT_HEAD_ACCOUNT))
  const key = await loadAuditKey(store, {create: false})
  const broken = (at: {file: string; line: number}, problem: string): VerifyResult => ({
    files,
    firstBroken: {file: at.file, line: at.line, problem},
    lines: lines.length,
    ok: false,
  })

  if (lines.length === 0) {
    if (head) {
      return broken(
        {file: AUDIT_FILE, line: 1},
        `the log is empty but the secret store's chain head is at seq ${head.seq}: the log was truncated or deleted`,
      )
    }

    return {files, lines: 0, ok: true}
  }

  // Rotated files are numbered 1..k; the oldest may start past seq 1 only once rotation has reached slot `keep`
  // (a hole below it shows as a seq gap; deleting the oldest file itself leaves it short of `keep`).
  const expired = Math.max(0, ...present.map((f) => f.index)) >= keep
  let previous: Line | null = null
  for (const [position, line] of lines.entries()) {
    const problem = lineProblem(line, previous, {expired, key, later: lines.slice(position + 1)})
    if (problem) return broken(line, problem)
    previous = line
  }

  const last = previous!
  const keyed = lines.filter((l) => !l.unkeyed)
  if (!head && keyed.length > 0) {
    return broken(keyed.at(-1)!, "no chain head in the secret store (it was deleted, or the log's tail was forged)")
  }

  const unprotected = lines.slice(keyed.length > 0 ? lines.lastIndexOf(keyed.at(-1)!) + 1 : 0)
  const intact: VerifyResult = {files, lines: lines.length, ok: true}
  if (unprotected.length > 0) {
    intact.unprotected = {count: unprotected.length, first: {file: unprotected[0]!.file, line: unprotected[0]!.line}}
  }

  if (!head) return intact
  if (head.seq > last.seq!) {
    return broken(
      {file: last.file, line: last.line + 1},
      `truncated: the log ends at seq ${last.seq} but the secret store's chain head is at seq ${head.seq}`,
    )
  }

  const atHead = lines.find((l) => l.seq === head.seq)
  if (atHead && atHead.hash !== head.hash) {
    return broken(atHead, `chain head mismatch: the line with seq ${head.seq} is not the one recorded as the head`)
  }

  if (!atHead) {
    return broken(lines[0]!, `the secret store's chain head (seq ${head.seq}) is older than the oldest line kept`)
  }

  return intact
}

/** `av log --verify` for a person: intact (with a note on unprotected lines) or the first broken line. */
export function formatVerifyResult(result: VerifyResult, dir: string): string {
  if (!result.ok) {
    const {file, line, problem} = result.firstBroken!
    return `audit log broken at ${file} line ${line}: ${problem}\n(${dir}; lines before it are intact)`
  }

  const lines = [`audit log intact: ${result.lines} lines in ${result.files.length} file(s) under ${dir}`]
  if (result.unprotected) {
    const {count, first} = result.unprotected
    lines.push(
      `note: the last ${count} line(s), from ${first.file} line ${first.line}, were written while the keychain was ` +
        'unavailable: not tamper-evident until the next keyed record',
    )
  }

  return lines.join('\n')
}
