/**
 * What an install is given and what it records: the defaults, the options and deps, and the manifest
 * (<prefix>/install-manifest.json) naming every file written with its exact content, so a re-install may replace
 * only its own files and uninstall removes exactly those.
 */
import {existsSync, lstatSync, readFileSync, readlinkSync} from 'node:fs'
import path from 'node:path'

import type {AwsRuntime} from '../aws/aws-runtime.js'

import {AvError} from '../core/errors.js'
import {checkRootOwned} from '../core/trust.js'
import {DEFAULT_RUN_DIR} from '../custody/run-record.js'
import {sha256File} from './root-files.js'

export const DEFAULTS = {
  binDir: '/usr/local/bin',
  custodyDir: '/var/lib/av/custody',
  runDir: DEFAULT_RUN_DIR,
  policy: '/etc/av/policy.json',
  prefix: '/opt/av',
  sudoersFile: '/etc/sudoers.d/av-custody',
} as const
export const MANIFEST_NAME = 'install-manifest.json'

export interface InstallOptions {
  binDir: string
  /**
   * Custody mode (the Linux default): the root-owned key store directory, where root keeps run records, and the
   * sudoers drop-in that lets users run the root launcher and the custody entry point.
   */
  custody?: {dir: string; runDir?: string; sudoersFile: string}
  linkAws: boolean
  policyFile: string
  prefix: string
}

export interface InstallDeps {
  /** Absolute path of the node binary the shims exec (root-owned, or install refuses). */
  node: string
  /** Root of the built av being installed (holds bin/run.js, dist, package.json, oclif.manifest.json). */
  source: string
  uid: number
  /** Finds the AWS CLI runtime to name in the policy when the policy does not name a usable one yet. */
  findRuntime(policyAwsCli: string[] | undefined): AwsRuntime
  /** `visudo -cf <file>`: is this sudoers text valid? (Custody only.) */
  checkSudoers?(file: string): {ok: boolean; output: string}
  /** Custody needs Linux (sudo's caller is checked through /proc). */
  platform?: NodeJS.Platform
}

export interface InstallManifest {
  v: 1
  prefix: string
  /** The copied tree (removed whole). */
  tree: string
  /**
   * Shims and links, with the exact content (or link target) written, so uninstall removes only those; a `copy`
   * (the CLI's interpreter, execute-only) records the sha256 of the bytes copied.
   */
  files: Array<{content: string; kind: 'copy' | 'file' | 'link'; path: string; source?: string}>
  /** Directories install created (removed when empty). */
  dirs: string[]
  policy: {
    created: boolean
    path: string
    previousAwsCli: null | string[]
    awsCli: string[]
    /** The policy bytes before the first install (null when install created it) and the bytes install wrote. */
    previousText: null | string
    writtenText: string
  }
  /** Custody mode: the entry points and sudoers drop-in are in `files`; the key store and run directories here. */
  custody?: {dir: string; entry: string; runDir?: string; sudoersFile: string}
}

export function readManifest(prefix: string): InstallManifest | null {
  const file = path.join(prefix, MANIFEST_NAME)
  if (!existsSync(file)) return null
  const verdict = checkRootOwned(file)
  if (!verdict.ok) {
    throw new AvError('refused', `the install manifest ${file} is not root-owned (${verdict.path} ${verdict.reason})`, {
      suggestion: 'Remove it by hand after checking what wrote it.',
    })
  }

  return JSON.parse(readFileSync(file, 'utf8')) as InstallManifest
}

export type FileKind = InstallManifest['files'][number]['kind']

/**
 * What is at `file` now: the content of a regular file (for a `copy`, the sha256 of its bytes), the target of a
 * link, or null when nothing is there.
 */
export function currentContent(file: string, as: FileKind = 'file'): null | {content: string; kind: FileKind} {
  try {
    const stat = lstatSync(file)
    if (stat.isSymbolicLink()) return {content: readlinkSync(file), kind: 'link'}
    if (stat.isFile() && as === 'copy') return {content: sha256File(file), kind: 'copy'}
    if (stat.isFile()) return {content: readFileSync(file, 'utf8'), kind: 'file'}
    return {content: '', kind: 'file'}
  } catch {
    return null
  }
}

/** Refuse to replace a file at `target` that av did not write. */
export function claimable(target: string, want: {content: string; kind: FileKind}, previous: InstallManifest | null) {
  const now = currentContent(target, want.kind)
  if (now === null) return
  const ours = previous?.files.some((f) => f.path === target && f.kind === now.kind && f.content === now.content)
  const same = now.kind === want.kind && now.content === want.content
  if (!ours && !same) {
    throw new AvError('conflict', `${target} exists and was not written by av install`, {
      suggestion: `Move it away first (it may be another AWS CLI or av install), or choose another --bin-dir.`,
    })
  }
}
