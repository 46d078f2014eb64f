/**
 * The trust rule: whatever loosens security is read only from files owned by root that no other user can
 * write, with every directory up to `/` owned by root and not writable by group or others. A root-owned
 * directory with the sticky bit (such as /tmp) counts as safe: others may add entries but not replace ours.
 */
import {lstatSync, realpathSync, statSync} from 'node:fs'
import path from 'node:path'

export type TrustVerdict = {ok: true; path: string} | {ok: false; path: string; reason: string}

export interface FileFacts {
  gid: number
  mode: number
  uid: number
}

/** The file-system seam: `stat` that follows links, `realpath`. Tests pass a table of facts. */
export interface TrustFs {
  realpath(p: string): string
  stat(p: string): FileFacts
}

export const realTrustFs: TrustFs = {
  realpath: (p) => realpathSync(p),
  stat(p) {
    const s = statSync(p)
    return {gid: s.gid, mode: s.mode, uid: s.uid}
  },
}

const STICKY = 0o1000
const GROUP_OR_OTHER_WRITE = 0o022

/**
 * Is `file` (after resolving links) and every directory above it root-owned and not writable by others?
 * With `directory`, `file` is a directory and may itself be a root-owned sticky one (such as /tmp).
 */
export function checkRootOwned(
  file: string,
  fs: TrustFs = realTrustFs,
  options: {directory?: boolean} = {},
): TrustVerdict {
  let resolved: string
  try {
    resolved = fs.realpath(file)
  } catch {
    return {ok: false, path: file, reason: 'does not exist'}
  }

  let current = resolved
  let isLeaf = !options.directory
  for (;;) {
    let facts: FileFacts
    try {
      facts = fs.stat(current)
    } catch {
      return {ok: false, path: current, reason: 'cannot be read'}
    }

    if (facts.uid !== 0) return {ok: false, path: current, reason: `is owned by uid ${facts.uid}, not root`}
    const writableByOthers = (facts.mode & GROUP_OR_OTHER_WRITE) !== 0
    const stickyDir = !isLeaf && (facts.mode & STICKY) !== 0
    if (writableByOthers && !stickyDir) {
      return {ok: false, path: current, reason: 'is writable by group or others'}
    }

    const parent = path.dirname(current)
    if (parent === current) break
    current = parent
    isLeaf = false
  }

  return {ok: true, path: resolved}
}

/**
 * checkRootOwned for a path as it was written (a script path in a process's argv): every directory named on
 * the way must pass too, before links are resolved, because a link in a user-writable directory (a symlinked
 * launcher in ~/bin) could point at the genuine file when checked and at another file when it was run.
 * Relative paths and `.`/`..` components are refused: they depend on a working directory that can change.
 */
export function checkRootOwnedPath(file: string, fs: TrustFs = realTrustFs): TrustVerdict {
  const parts = file.split('/')
  if (!path.isAbsolute(file) || parts.slice(1).some((c) => c === '' || c === '.' || c === '..')) {
    return {ok: false, path: file, reason: 'is not a plain absolute path'}
  }

  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const verdict = checkRootOwned(dir, fs, {directory: true})
    if (!verdict.ok) return verdict
    if (dir === '/') break
  }

  return checkRootOwned(file, fs)
}

/** True when `p` is a symlink (used to refuse user-named links where a plain file is expected). */
export function isSymlink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink()
  } catch {
    return false
  }
}
