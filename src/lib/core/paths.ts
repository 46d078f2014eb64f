/**
 * Where av keeps user state, by platform and XDG convention. Paths follow HOME / XDG_* (tests point them at temp
 * dirs) — except the audit trail's, which comes from the account database (see `auditDir`).
 */
import {userInfo} from 'node:os'
import path from 'node:path'

import {passwdEntry} from './passwd.js'
import {checkRootOwned, realTrustFs, type TrustFs} from './trust.js'

export interface PathEnv {
  env: NodeJS.ProcessEnv
  home: string
  platform: NodeJS.Platform
}

export function awsCredentialsFile({env, home}: PathEnv): string {
  return env.AWS_SHARED_CREDENTIALS_FILE || path.join(home, '.aws', 'credentials')
}

export function awsConfigFile({env, home}: PathEnv): string {
  return env.AWS_CONFIG_FILE || path.join(home, '.aws', 'config')
}

/**
 * The CommonJS entries of an installed av tree, relative to it (scripts/bundle.mjs builds them): keychain mode's
 * launcher, which the shims start, and its credential helper, which the sealed config names.
 */
export const TREE_ENTRIES = {
  helper: path.join('dist', 'lib', 'main', 'helper-entry.cjs'),
  launcher: path.join('dist', 'lib', 'main', 'run-entry.cjs'),
}

/** Audit log and other state: ~/.local/state/av on Linux, ~/Library/Logs/av on macOS. */
export function stateDir({env, home, platform}: PathEnv): string {
  if (platform === 'darwin') return path.join(home, 'Library', 'Logs', 'av')
  return path.join(env.XDG_STATE_HOME || path.join(home, '.local', 'state'), 'av')
}

/** The user's own av settings (may only tighten): ~/.config/av/config.json. */
export function userConfigFile({env, home}: PathEnv): string {
  return path.join(env.XDG_CONFIG_HOME || path.join(home, '.config'), 'av', 'config.json')
}

/** Where `av run` makes its private per-run HOME: XDG_RUNTIME_DIR when it is ours, else the OS temp dir. */
export function runtimeDir({env}: PathEnv, tmpdir: string): string {
  return env.XDG_RUNTIME_DIR || tmpdir
}

/** The home directory the account database (getpwuid) names for `uid`: never HOME, which any process can set. */
export function accountHome(uid: number): string {
  const self = userInfo()
  if (self.uid === uid) return self.homedir
  return passwdEntry(uid)?.home ?? ''
}

export interface AuditDirInput {
  /** The environment that names the state dir of a root-run av (for the helper: its launcher's). */
  env: NodeJS.ProcessEnv
  platform: NodeJS.Platform
  /** Real and effective uid of the process. */
  uid: number
  euid: number
}

/** The nearest existing directory at or above `dir` passes the trust rule (root-owned, others cannot write). */
function rootControlled(dir: string, fs: TrustFs): boolean {
  if (!path.isAbsolute(dir)) return false
  let current = dir
  for (;;) {
    const verdict = checkRootOwned(current, fs, {directory: true})
    if (verdict.ok) return true
    if (verdict.reason !== 'does not exist') return false
    const parent = path.dirname(current)
    if (parent === current) return false
    current = parent
  }
}

/**
 * Where the user's audit trail lives: the state dir under the home directory the account database names for the
 * real uid (~/.local/state/av, ~/Library/Logs/av) — never HOME or XDG_STATE_HOME. Any process of the user can set
 * those, and a line written elsewhere would make the real trail look cut (its chain head, in the secret store,
 * would be ahead of it); a line that cannot be written here is refused, never written somewhere else.
 *
 * Root alone may move its own trail with HOME/XDG_STATE_HOME, as it always could (the test suites run as root
 * in temp HOMEs): no process of another user can set a root process's environment (sudo resets it), and the
 * place must pass the trust rule, so even `sudo -E` cannot make root write its trail into a user's directory.
 * A setuid process (uid ≠ euid) never takes the environment's word.
 */
export function auditDir(input: AuditDirInput, deps: {home?: (uid: number) => string; fs?: TrustFs} = {}): string {
  const {env, euid, platform, uid} = input
  const home = (deps.home ?? accountHome)(uid)
  if (uid === 0 && euid === 0 && (env.HOME || env.XDG_STATE_HOME)) {
    const named = stateDir({env, home: env.HOME || home, platform})
    if (rootControlled(named, deps.fs ?? realTrustFs)) return named
  }

  // An account without an absolute home gets a path that cannot be written: refused loudly, never relative to cwd.
  return stateDir({env: {}, home: path.isAbsolute(home) ? home : '/nonexistent', platform})
}
