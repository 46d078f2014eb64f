/**
 * Root-owned files for install and uninstall: refuse unless root, directories that pass the trust rule (created when
 * missing), files and links written through a temp name and a rename (a planted symlink is replaced, never
 * followed), an execute-only copy, and the root-owned policy read as a JSON object.
 */
import {createHash} from 'node:crypto'
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import path from 'node:path'

import {AvError} from '../core/errors.js'
import {checkRootOwned} from '../core/trust.js'

export function refuseUnlessRoot(uid: number, verb: string): void {
  if (uid !== 0) {
    throw new AvError('not-root', `av ${verb} changes root-owned files and must run as root`, {
      suggestion: `sudo av ${verb}`,
    })
  }
}

/** A directory we may write into: create what is missing (recording it), then require it to pass the trust rule. */
export function trustedDir(dir: string, created: Set<string>): void {
  const missing: string[] = []
  let current = path.resolve(dir)
  while (!existsSync(current)) {
    missing.unshift(current)
    current = path.dirname(current)
  }

  const base = checkRootOwned(current)
  if (!base.ok) throw untrusted(dir, base.path, base.reason)
  for (const d of missing) {
    mkdirSync(d, {mode: 0o755})
    chmodSync(d, 0o755)
    created.add(d)
  }

  const verdict = checkRootOwned(dir)
  if (!verdict.ok) throw untrusted(dir, verdict.path, verdict.reason)
}

export function untrusted(dir: string, where: string, reason: string): AvError {
  return new AvError('refused', `refusing to install into ${dir}: ${where} ${reason}`, {
    suggestion: 'Install under directories owned by root and writable by root only (e.g. /opt/av, /usr/local/bin).',
  })
}

/** Write `content` at `file` through a temp file and a rename: a symlink planted there is replaced, not followed. */
export function writeRootFile(file: string, content: string, mode: number): void {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.av-${process.pid}`)
  rmSync(temp, {force: true})
  writeFileSync(temp, content, {flag: 'wx', mode})
  chownSync(temp, 0, 0)
  chmodSync(temp, mode)
  renameSync(temp, file)
}

export function writeRootLink(link: string, target: string): void {
  const temp = path.join(path.dirname(link), `.${path.basename(link)}.av-${process.pid}`)
  rmSync(temp, {force: true})
  symlinkSync(target, temp)
  renameSync(temp, link)
}

/**
 * Copy `source` to `target` root-owned with mode 0711: users may run it but not read it, and the kernel marks a
 * process started from a file its user cannot read as non-dumpable (no ptrace, no /proc/<pid>/environ or mem).
 */
export function copyExecuteOnly(source: string, target: string, sha256: string): void {
  const temp = path.join(path.dirname(target), `.${path.basename(target)}.av-${process.pid}`)
  rmSync(temp, {force: true})
  copyFileSync(source, temp)
  chownSync(temp, 0, 0)
  chmodSync(temp, 0o711)
  if (sha256File(temp) !== sha256) throw new AvError('internal', `${source} changed while av copied it`)
  renameSync(temp, target)
}

export function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex')
}

export function readPolicyDoc(file: string): null | Record<string, unknown> {
  if (!existsSync(file)) return null
  const verdict = checkRootOwned(file)
  if (!verdict.ok) {
    throw new AvError('refused', `the policy ${file} is not root-owned (${verdict.path} ${verdict.reason})`, {
      suggestion: 'Check who wrote it, fix its owner and mode (root, 0644), then run `sudo av install` again.',
    })
  }

  try {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as unknown
    if (typeof doc === 'object' && doc !== null && !Array.isArray(doc)) return doc as Record<string, unknown>
  } catch {}

  throw new AvError('conflict', `the policy ${file} is not a JSON object`, {
    suggestion: 'Fix or remove it, then run `sudo av install` again.',
  })
}
