/**
 * Copying the built av to <prefix>/lib/av: bin, dist, package.json, oclif.manifest.json and the production
 * node_modules only, root-owned 0755/0644, staged beside the tree and renamed over it.
 */
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
} from 'node:fs'
import path from 'node:path'

import {AvError} from '../core/errors.js'
import {TREE_ENTRIES} from '../core/paths.js'

/** Names of the production packages under node_modules (npm's hidden lockfile marks dev-only ones). */
export function productionPackages(hiddenLockfile: string): string[] {
  const lock = JSON.parse(hiddenLockfile) as {packages?: Record<string, {dev?: boolean; link?: boolean}>}
  return Object.entries(lock.packages ?? {})
    .filter(([name, meta]) => name.startsWith('node_modules/') && !meta.dev && !meta.link)
    .map(([name]) => name)
    .sort()
}

/** Copy a file or tree, root-owned, 0755 for directories and executables, 0644 for everything else. */
function copyTree(from: string, to: string, skip: (rel: string) => boolean, rel = ''): void {
  const stat = lstatSync(from)
  if (stat.isSymbolicLink()) return
  if (stat.isDirectory()) {
    mkdirSync(to, {mode: 0o755, recursive: true})
    chmodSync(to, 0o755)
    for (const name of readdirSync(from).sort()) {
      const childRel = rel ? `${rel}/${name}` : name
      if (!skip(childRel)) copyTree(path.join(from, name), path.join(to, name), skip, childRel)
    }

    return
  }

  if (!stat.isFile()) return
  copyFileSync(from, to)
  chownSync(to, 0, 0)
  chmodSync(to, stat.mode & 0o111 ? 0o755 : 0o644)
}

/** Directories created on the way (`@scope/` parents) got the umask's mode: make every one 0755. */
function settleDirModes(dir: string): void {
  chmodSync(dir, 0o755)
  for (const entry of readdirSync(dir, {withFileTypes: true})) {
    if (entry.isDirectory()) settleDirModes(path.join(dir, entry.name))
  }
}

/** Throws `not-found` unless `source` is a built av: install checks this before it makes any directory. */
export function assertBuilt(source: string): void {
  // The shims and the sealed config name the CommonJS entries (keychain mode's launcher and helper) directly.
  const entries = ['dist/lib/main/run-main.js', TREE_ENTRIES.launcher, TREE_ENTRIES.helper]
  for (const required of ['bin/run.js', ...entries, 'package.json', 'oclif.manifest.json']) {
    if (!existsSync(path.join(source, required))) {
      throw new AvError('not-found', `${path.join(source, required)} is missing: this is not a built av`, {
        suggestion: 'Run `npm run build` in the av checkout first.',
      })
    }
  }
}

export function copyAv(source: string, tree: string): void {
  assertBuilt(source)

  const modules = realpathSync(path.join(source, 'node_modules'))
  const packages = productionPackages(readFileSync(path.join(modules, '.package-lock.json'), 'utf8'))
  const staging = `${tree}.staging-${process.pid}`
  rmSync(staging, {force: true, recursive: true})
  mkdirSync(staging, {mode: 0o755})
  chmodSync(staging, 0o755)
  for (const part of ['bin', 'dist', 'package.json', 'oclif.manifest.json']) {
    copyTree(path.join(source, part), path.join(staging, part), () => false)
  }

  // The hidden lockfile goes along, so `sudo av install` run from an installed copy can install it again.
  mkdirSync(path.join(staging, 'node_modules'), {mode: 0o755})
  copyTree(
    path.join(modules, '.package-lock.json'),
    path.join(staging, 'node_modules', '.package-lock.json'),
    () => false,
  )
  for (const name of packages) {
    const from = path.join(modules, name.slice('node_modules/'.length))
    // Optional packages for other platforms are in the lockfile but not on disk.
    if (!existsSync(from)) continue
    // Nested node_modules hold their own entries in the lockfile: copy each package without them.
    copyTree(from, path.join(staging, name), (rel) => rel === 'node_modules' || rel.startsWith('node_modules/'))
  }

  settleDirModes(staging)
  const old = `${tree}.old-${process.pid}`
  if (existsSync(tree)) renameSync(tree, old)
  renameSync(staging, tree)
  rmSync(old, {force: true, recursive: true})
}
