/**
 * `sudo av uninstall`: custody's keys back into each owner's keychain first, then exactly what the manifest names
 * (files only while they still hold what install wrote), the policy's awsCli put back, and the directories install
 * created once empty.
 */
import {existsSync, lstatSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, unlinkSync} from 'node:fs'
import path from 'node:path'

import {AvError} from '../core/errors.js'
import {IMPORTER, returnCustodyKeys, type ReturnWorld, systemReturnWorld} from '../custody/custody-return.js'
import {currentContent, type InstallManifest, MANIFEST_NAME, readManifest} from './install-manifest.js'
import {readPolicyDoc, refuseUnlessRoot, writeRootFile} from './root-files.js'

export interface UninstallResult {
  /** Left in place: changed since install, or a directory that is not empty. */
  kept: string[]
  removed: string[]
  /** Custody: users whose durable keys went back into their own keychain. */
  returned: string[]
  /** The policy, with awsCli put back as it was before install (other keys untouched). */
  restored: string[]
}

export function uninstallAv(
  options: {prefix: string},
  deps: {returnWorld?: ReturnWorld; uid: number},
): UninstallResult {
  refuseUnlessRoot(deps.uid, 'uninstall')
  const prefix = path.resolve(options.prefix)
  const manifest = readManifest(prefix)
  if (!manifest) {
    throw new AvError('not-found', `no av install under ${prefix} (${path.join(prefix, MANIFEST_NAME)} is missing)`, {
      suggestion: 'Name the prefix it was installed with: sudo av uninstall --prefix <dir>.',
    })
  }

  // Keys first, into each owner's keychain; this throws, having removed nothing, unless every key went.
  const importer = path.join(manifest.tree, 'dist', 'lib', 'main', 'keychain-import-main.js')
  const world = deps.returnWorld ?? systemReturnWorld(existsSync(importer) ? importer : IMPORTER)
  const returned = manifest.custody ? returnCustodyKeys(manifest.custody.dir, world) : []
  const result: UninstallResult = {kept: [], removed: [], restored: [], returned}
  const {kept, removed} = result
  for (const file of manifest.files) {
    const now = currentContent(file.path, file.kind)
    if (now === null) continue
    if (now.kind === file.kind && now.content === file.content) {
      unlinkSync(file.path)
      removed.push(file.path)
    } else kept.push(file.path)
  }

  rmSync(manifest.tree, {force: true, recursive: true})
  removed.push(manifest.tree)
  if (manifest.custody && existsSync(manifest.custody.dir)) {
    // The durable keys are in their owners' keychains now; token keys and cached sessions are not needed.
    rmSync(manifest.custody.dir, {force: true, recursive: true})
    removed.push(manifest.custody.dir)
  }

  // Run records and sealed HOMEs of runs (none is live once the launcher is gone), when this install made the
  // directory: one another install shares (an existing /run/av) stays.
  const {runDir} = manifest.custody ?? {}
  if (runDir && manifest.dirs.includes(runDir) && existsSync(runDir)) {
    rmSync(runDir, {force: true, recursive: true})
    removed.push(runDir)
  }

  revertPolicy(manifest.policy, result)

  const manifestFile = path.join(prefix, MANIFEST_NAME)
  unlinkSync(manifestFile)
  removed.push(manifestFile)
  // Deepest first; a directory someone else put files in stays.
  for (const dir of [...manifest.dirs].sort((a, b) => b.length - a.length)) {
    try {
      rmdirSync(dir)
      removed.push(dir)
    } catch {
      if (existsSync(dir)) kept.push(dir)
    }
  }

  removeEmptyLayout(manifest, removed)
  return result
}

/**
 * The prefix's own layout (`bin`, `lib`, `libexec`: the parents of what the manifest names inside the prefix) and
 * the prefix itself, when nothing but those, empty, is left there. `dirs` lists only what the recorded install
 * created: an install that was refused part-way (a foreign sudoers drop-in, visudo, a tampered entry point) has
 * already created them without a manifest, and the install that then succeeded found them present. A prefix
 * holding anything else (such as /usr/local) keeps every directory.
 */
function removeEmptyLayout(manifest: InstallManifest, removed: string[]): void {
  const {prefix} = manifest
  const inside = [manifest.tree, ...manifest.files.map((f) => f.path)].filter((p) => p.startsWith(prefix + path.sep))
  const layout = new Set(inside.map((p) => path.dirname(p)).filter((d) => d !== prefix))
  let entries: string[]
  try {
    entries = readdirSync(prefix)
  } catch {
    return
  }

  const ownOnly = entries.every((name) => {
    const dir = path.join(prefix, name)
    return layout.has(dir) && lstatSync(dir).isDirectory() && readdirSync(dir).length === 0
  })
  if (!ownOnly) return
  for (const dir of [...entries.map((name) => path.join(prefix, name)), prefix]) {
    rmdirSync(dir)
    removed.push(dir)
  }
}

function revertPolicy(policy: InstallManifest['policy'], {kept, removed, restored}: UninstallResult): void {
  if (!existsSync(policy.path) || !statSync(policy.path).isFile()) return
  const doc = readPolicyDoc(policy.path) ?? {}
  // Untouched since install: put the exact bytes back (or remove the file install created).
  if (readFileSync(policy.path, 'utf8') === policy.writtenText) {
    if (policy.previousText === null) {
      unlinkSync(policy.path)
      removed.push(policy.path)
    } else {
      writeRootFile(policy.path, policy.previousText, 0o644)
      restored.push(policy.path)
    }

    return
  }

  // Edited since: change only awsCli back, keep the edits.
  const {awsCli, ...rest} = doc
  if (JSON.stringify(awsCli) !== JSON.stringify(policy.awsCli)) {
    kept.push(policy.path)
    return
  }

  if (policy.created && Object.keys(rest).length === 0) {
    unlinkSync(policy.path)
    removed.push(policy.path)
    return
  }

  const previous = policy.previousAwsCli ? {...rest, awsCli: policy.previousAwsCli} : rest
  writeRootFile(policy.path, JSON.stringify(previous, null, 2) + '\n', 0o644)
  restored.push(policy.path)
}
