/**
 * The audit trail's files: audit.jsonl is the current one; rotation by size shifts it to audit.1.jsonl (the newest
 * rotated file) and keeps `keep` older files, dropping the oldest. The chain carries across files.
 */
import * as nodeFs from 'node:fs'
import path from 'node:path'

export const AUDIT_FILE = 'audit.jsonl'
export const DEFAULT_MAX_BYTES = 5 * 1024 * 1024
export const DEFAULT_KEEP = 5

/** The file-system calls rotation makes (a subset of the log's AuditFs). */
export type RotationFs = Pick<typeof nodeFs, 'closeSync' | 'fsyncSync' | 'openSync' | 'renameSync'>

/** File name of rotation index `n`: 0 is the current file, 1 the newest rotated one. */
export function auditFileName(n: number): string {
  return n === 0 ? AUDIT_FILE : `audit.${n}.jsonl`
}

/** The log's files present in `dir`, oldest first: [{name, index}], index 0 (current) last. */
export function listAuditFiles(
  dir: string,
  fs: Pick<typeof nodeFs, 'readdirSync'> = nodeFs,
): Array<{index: number; name: string}> {
  let names: string[]
  try {
    names = fs.readdirSync(dir) as string[]
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw error
  }

  const files: Array<{index: number; name: string}> = []
  for (const name of names) {
    if (name === AUDIT_FILE) files.push({index: 0, name})
    const match = /^audit\.([1-9]\d{0,3})\.jsonl$/.exec(name)
    if (match) files.push({index: Number(match[1]), name})
  }

  return files.sort((a, b) => (a.index === 0 ? 1 : b.index === 0 ? -1 : b.index - a.index))
}

/** Shift audit.jsonl → audit.1.jsonl → … → audit.<keep>.jsonl (the oldest is dropped), then sync the dir. */
export function rotateAuditFiles(dir: string, keep: number, fs: RotationFs): void {
  for (let n = keep; n >= 1; n--) {
    const from = path.join(dir, auditFileName(n - 1))
    const to = path.join(dir, auditFileName(n))
    try {
      fs.renameSync(from, to)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    }
  }

  const fd = fs.openSync(dir, 'r')
  try {
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}
