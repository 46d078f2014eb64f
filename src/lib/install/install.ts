/**
 * `sudo av install`: a root-owned copy of av the launcher and helper can trust.
 *
 * Install copies the built av (bin, dist, package.json, oclif.manifest.json and the production node_modules only)
 * to <prefix>/lib/av, root-owned 0755/0644; writes <bin-dir>/av and the launcher shim <prefix>/bin/aws, both
 * `#!/bin/sh` scripts that exec the root-owned node on that copy (a `#!/usr/bin/env node` link would let a
 * user's PATH pick an nvm node); optionally links <bin-dir>/aws to the shim; and names the AWS CLI runtime in the
 * policy (`awsCli`), keeping the policy's other keys. Every directory written into must pass the trust rule, every
 * file is written to a temp name and renamed (a planted symlink is replaced, never followed), and what was written
 * is recorded in <prefix>/install-manifest.json so `uninstall` removes exactly that. Running it twice writes the
 * same bytes.
 *
 * The parts: install-manifest.ts (the options and the record), root-files.ts (writing root-owned files),
 * copy-av.ts (the tree), shims.ts (the scripts), install-custody.ts (custody mode); uninstall.ts undoes it.
 */
import {chmodSync, readFileSync, rmdirSync} from 'node:fs'
import path from 'node:path'

import {AvError} from '../core/errors.js'
import {TREE_ENTRIES} from '../core/paths.js'
import {checkRootOwned} from '../core/trust.js'
import {assertBuilt, copyAv} from './copy-av.js'
import {
  type CustodyPlan,
  custodyPolicyKey,
  planCustody,
  prepareCustody,
  refuseCustodyOffLinux,
} from './install-custody.js'
import {
  claimable,
  type InstallDeps,
  type InstallManifest,
  type InstallOptions,
  MANIFEST_NAME,
  readManifest,
} from './install-manifest.js'
import {
  copyExecuteOnly,
  readPolicyDoc,
  refuseUnlessRoot,
  trustedDir,
  writeRootFile,
  writeRootLink,
} from './root-files.js'
import {avShimText, custodyShimText, shimText} from './shims.js'

export interface InstallResult {
  awsCli: string[]
  manifest: string
  written: string[]
}

/**
 * Shims, links and the custody entry point; the sudoers drop-in last (0440): only once the entry point it names is
 * in place does sudo let users run it.
 */
function writeFiles(files: InstallManifest['files'], custody: CustodyPlan | null): void {
  for (const file of files) {
    if (file.kind === 'link') writeRootLink(file.path, file.content)
    else if (file.kind === 'copy') copyExecuteOnly(file.source!, file.path, file.content)
    else if (file.path !== custody?.sudoersFile) writeRootFile(file.path, file.content, 0o755)
  }

  if (custody) writeRootFile(custody.sudoersFile, custody.sudoersText, 0o440)
}

function requireRootNode(node: string): void {
  const verdict = checkRootOwned(node)
  if (!verdict.ok) {
    throw new AvError(
      'runtime-untrusted',
      `node at ${node} is not root-controlled (${verdict.path} ${verdict.reason})`,
      {
        suggestion: 'Install Node.js system-wide (e.g. apt-get install nodejs) and run `sudo av install` with it.',
      },
    )
  }
}

export function installAv(options: InstallOptions, deps: InstallDeps): InstallResult {
  refuseUnlessRoot(deps.uid, 'install')
  if (options.custody) refuseCustodyOffLinux(deps.platform ?? process.platform)

  const prefix = path.resolve(options.prefix)
  requireRootNode(deps.node)
  assertBuilt(deps.source)
  const previous = readManifest(prefix)
  if (previous?.custody && !options.custody) {
    throw new AvError('conflict', `custody is installed under ${prefix}, and the keys it holds would be left behind`, {
      suggestion:
        'Run `sudo -E av uninstall` first (it hands every key back to its owner’s keychain), then `sudo av install --keychain`.',
    })
  }

  const created = new Set(previous?.dirs ?? [])
  const policyDoc = readPolicyDoc(options.policyFile)
  const existingAwsCli = Array.isArray(policyDoc?.awsCli) ? (policyDoc.awsCli as string[]) : undefined
  const runtime = deps.findRuntime(existingAwsCli)

  const tree = path.join(prefix, 'lib', 'av')
  const entry = path.join(tree, 'bin', 'run.js')
  const custody = options.custody
    ? planCustody(options.custody, {
        awsCli: runtime.argv,
        node: deps.node,
        policyFile: options.policyFile,
        prefix,
        tree,
      })
    : null
  // Keychain mode's launcher: its CommonJS entry (main/run-entry.ts), which the helper accepts as `node <script> run`.
  const runEntry = path.join(tree, TREE_ENTRIES.launcher)
  const [shim, avShim] = custody
    ? [custodyShimText(custody.launch), avShimText(deps.node, entry, {custodyLaunch: custody.launch})]
    : [
        shimText(deps.node, runEntry, ['run', '--', 'aws'], ['NODE_EXTRA_CA_CERTS']),
        avShimText(deps.node, entry, {runEntry}),
      ]
  const files: InstallManifest['files'] = [
    {content: shim, kind: 'file', path: path.join(prefix, 'bin', 'aws')},
    {content: avShim, kind: 'file', path: path.join(options.binDir, 'av')},
  ]
  if (options.linkAws) files.push({content: files[0]!.path, kind: 'link', path: path.join(options.binDir, 'aws')})
  if (custody) files.push(...custody.files)

  try {
    for (const dir of [
      path.join(prefix, 'lib'),
      path.join(prefix, 'bin'),
      options.binDir,
      path.dirname(options.policyFile),
    ]) {
      trustedDir(dir, created)
    }

    if (custody) {
      prepareCustody(custody, created, deps)
      trustedDir(custody.runDir, created)
      chmodSync(custody.runDir, 0o711)
    }

    for (const file of files) claimable(file.path, file, previous)
  } catch (error) {
    // Refused before writing anything: take back the directories this attempt made (no manifest will name them).
    removeNewDirs(created, new Set(previous?.dirs ?? []))
    throw error
  }

  copyAv(deps.source, tree)
  writeFiles(files, custody)

  // Only awsCli changes; every other key stays. Install keeps the awsCli it found usable.
  const policyCreated = previous?.policy.created ?? policyDoc === null
  const previousAwsCli = previous ? previous.policy.previousAwsCli : (existingAwsCli ?? null)
  const previousText = previous ? previous.policy.previousText : policyDoc && readFileSync(options.policyFile, 'utf8')
  const policyText =
    JSON.stringify({...policyDoc, awsCli: runtime.argv, ...custodyPolicyKey(custody, policyDoc?.custody)}, null, 2) +
    '\n'
  writeRootFile(options.policyFile, policyText, 0o644)

  const manifest: InstallManifest = {
    v: 1,
    prefix,
    tree,
    files,
    dirs: [...created].sort(),
    policy: {
      awsCli: runtime.argv,
      created: policyCreated,
      path: options.policyFile,
      previousAwsCli,
      previousText,
      writtenText: policyText,
    },
    ...(custody
      ? {custody: {dir: custody.dir, entry: custody.entry, runDir: custody.runDir, sudoersFile: custody.sudoersFile}}
      : {}),
  }
  const manifestFile = path.join(prefix, MANIFEST_NAME)
  writeRootFile(manifestFile, JSON.stringify(manifest, null, 2) + '\n', 0o644)
  return {
    awsCli: runtime.argv,
    manifest: manifestFile,
    written: [tree, ...files.map((f) => f.path), options.policyFile, manifestFile],
  }
}

/** Remove, deepest first, the directories in `created` that were not there before and are still empty. */
function removeNewDirs(created: Set<string>, before: Set<string>): void {
  for (const dir of [...created].filter((d) => !before.has(d)).sort((a, b) => b.length - a.length)) {
    try {
      rmdirSync(dir)
    } catch {
      // not empty, or gone: leave it
    }
  }
}
