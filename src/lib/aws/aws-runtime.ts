/**
 * Which AWS CLI `av run` starts. Only a root-controlled runtime: the one the root-owned policy names (`awsCli`),
 * else the first root-owned candidate — Debian's package run as `/usr/bin/python3 -I /usr/bin/aws`, or the
 * official installer's binary. Every path in the runtime argv (interpreter, entry script) must pass the trust
 * rule: an `aws` in pyenv, pip --user, Homebrew or nvm is user-writable, so an agent could edit it to print the
 * credentials it is handed.
 */
import {closeSync, openSync, readSync} from 'node:fs'
import path from 'node:path'

import type {Policy} from '../core/policy.js'

import {AvError} from '../core/errors.js'
import {checkRootOwned, realTrustFs, type TrustFs} from '../core/trust.js'

export interface AwsRuntime {
  /** The argv prefix the launcher spawns; the user's arguments follow it. */
  argv: string[]
  source: 'debian' | 'installer' | 'policy'
}

/** The file-system seam: the trust facts plus the first bytes of a file (null when it cannot be read). */
export interface RuntimeFs extends TrustFs {
  readHead(file: string): null | string
}

export const realRuntimeFs: RuntimeFs = {
  ...realTrustFs,
  readHead(file) {
    try {
      const fd = openSync(file, 'r')
      try {
        const buffer = Buffer.alloc(256)
        const n = readSync(fd, buffer, 0, buffer.length, 0)
        return buffer.subarray(0, n).toString('latin1')
      } finally {
        closeSync(fd)
      }
    } catch {
      return null
    }
  },
}

export interface RuntimeDeps {
  env: NodeJS.ProcessEnv
  fs?: RuntimeFs
  platform: NodeJS.Platform
  policy: Pick<Policy, 'awsCli'>
}

const DEBIAN_ENTRY = '/usr/bin/aws'
const DEBIAN_INTERPRETER = /^\/usr\/bin\/python3(?:\.\d+)?$/
const INSTALLER = {
  darwin: ['/usr/local/aws-cli/aws'],
  linux: ['/usr/local/aws-cli/v2/current/bin/aws'],
} as Record<string, string[]>

const INSTALL_HINT =
  'Install a root-owned AWS CLI v2 — `sudo apt-get install awscli` (Debian/Ubuntu) or the official installer ' +
  '(https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html) — then run `sudo av install`.'

function exists(fs: TrustFs, file: string): boolean {
  try {
    fs.realpath(file)
    return true
  } catch {
    return false
  }
}

/** The first path element of `argv` that fails the trust rule, as a sentence, or null when all pass. */
function untrustedElement(argv: string[], fs: TrustFs): null | string {
  for (const element of argv) {
    if (!element.startsWith('/')) continue
    const verdict = checkRootOwned(element, fs)
    if (!verdict.ok) return `${element}: ${verdict.path} ${verdict.reason}`
  }

  return null
}

/** Debian's layout: /usr/bin/aws is a Python script whose shebang names the system python3. */
function debianRuntime(fs: RuntimeFs): {argv?: string[]; problem?: string} {
  if (!exists(fs, DEBIAN_ENTRY)) return {}
  const head = fs.readHead(DEBIAN_ENTRY)
  const shebang = head?.startsWith('#!') ? head.slice(2).split('\n')[0]!.trim() : null
  // The official installer may link /usr/bin/aws to its binary; that candidate is checked on its own.
  if (shebang === null) return {}
  const interpreter = shebang.split(/\s+/)[0]!
  if (!DEBIAN_INTERPRETER.test(interpreter)) {
    return {problem: `${DEBIAN_ENTRY}: runs ${interpreter}, not the system /usr/bin/python3`}
  }

  return {argv: [interpreter, '-I', DEBIAN_ENTRY]}
}

/** An `aws` on the user's PATH, for the refusal message (it is never run). */
function awsOnPath(env: NodeJS.ProcessEnv, fs: TrustFs): null | string {
  for (const dir of (env.PATH ?? '').split(':')) {
    if (!dir.startsWith('/')) continue
    const candidate = path.join(dir, 'aws')
    if (exists(fs, candidate)) return candidate
  }

  return null
}

/** Find the runtime, or throw `runtime-untrusted` (126) / `runtime-not-found` (127) with what to do. */
export function findAwsRuntime(deps: RuntimeDeps): AwsRuntime {
  const fs = deps.fs ?? realRuntimeFs

  if (deps.policy.awsCli) {
    const problem = untrustedElement(deps.policy.awsCli, fs)
    if (problem) {
      throw new AvError('runtime-untrusted', `the AWS CLI named by the av policy is not root-controlled (${problem})`, {
        suggestion: `Fix awsCli in the policy. ${INSTALL_HINT}`,
      })
    }

    return {argv: [...deps.policy.awsCli], source: 'policy'}
  }

  const problems: string[] = []
  const debian = debianRuntime(fs)
  if (debian.problem) problems.push(debian.problem)
  if (debian.argv) {
    const problem = untrustedElement(debian.argv, fs)
    if (problem) problems.push(problem)
    else return {argv: debian.argv, source: 'debian'}
  }

  for (const binary of INSTALLER[deps.platform] ?? []) {
    if (!exists(fs, binary)) continue
    const problem = untrustedElement([binary], fs)
    if (problem) problems.push(problem)
    else return {argv: [binary], source: 'installer'}
  }

  const onPath = awsOnPath(deps.env, fs)
  if (problems.length === 0 && onPath) {
    const verdict = checkRootOwned(onPath, fs)
    problems.push(
      verdict.ok
        ? `${onPath} is not a layout av knows how to run sealed`
        : `${onPath}: ${verdict.path} ${verdict.reason} (a user-writable install such as pyenv, pip --user, Homebrew or nvm)`,
    )
  }

  if (problems.length > 0) {
    throw new AvError('runtime-untrusted', `no root-controlled AWS CLI found; refusing ${problems.join('; ')}`, {
      suggestion: INSTALL_HINT,
    })
  }

  throw new AvError('runtime-not-found', 'no AWS CLI found', {suggestion: INSTALL_HINT})
}
