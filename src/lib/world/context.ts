/**
 * The world as av's lib sees it. Commands build the real one with `realContext()` (from the one shared builder,
 * process-world.ts); tests build their own with fakes (memory store, fixed clock, captured output). No module reads
 * process.env, the clock, the policy or the keychain behind the context's back.
 */
import {homedir, tmpdir} from 'node:os'

import type {AuditSink} from '../audit/audit.js'
import type {Clock} from '../core/clock.js'
import type {SecretStore} from '../store/secret-store.js'

import {FileAuditLog, procProcessChain} from '../audit/audit.js'
import {auditDir} from '../core/paths.js'
import {type LoadedPolicy, loadPolicy} from '../core/policy.js'
import {KeyringStore} from '../store/secret-store.js'
import {type Output, processWorld} from './process-world.js'

export interface Context {
  audit: AuditSink
  clock: Clock
  env: NodeJS.ProcessEnv
  euid: number
  home: string
  /** Whether a person can answer on this terminal (stdin and stderr are TTYs). */
  interactive: boolean
  platform: NodeJS.Platform
  /** The root-owned policy (or the defaults), read once per process on first use, with its warnings. */
  policy(): LoadedPolicy
  stderr: Output
  stdout: Output
  /** Whether stdout is a terminal (progress drawn in place) rather than a pipe or file (one line per step). */
  stdoutIsTerminal: boolean
  store: SecretStore
  tmpdir: string
  uid: number
}

/**
 * The user's audit trail directory: from the account database, not the environment (paths.ts `auditDir`). `av
 * log`, `av doctor` and every writer ask this one function, so they agree on one place.
 */
export function userAuditDir(ctx: Pick<Context, 'env' | 'euid' | 'platform' | 'uid'>): string {
  return auditDir({env: ctx.env, euid: ctx.euid, platform: ctx.platform, uid: ctx.uid})
}

export function realContext(overrides: Partial<Context> = {}): Context {
  const base = processWorld()
  const env = overrides.env ?? base.env
  const home = overrides.home ?? env.HOME ?? homedir()
  const platform = overrides.platform ?? base.platform
  const store = overrides.store ?? new KeyringStore({platform})
  const uid = overrides.uid ?? base.uid
  const euid = overrides.euid ?? base.euid
  const clock = overrides.clock ?? base.clock
  // The audit chain's key and head live in the secret store; on Linux each line names who asked (a /proc walk).
  const processChain = platform === 'linux' ? (pid: number) => procProcessChain(pid) : undefined
  const dir = () => userAuditDir({env, euid, platform, uid})
  let loaded: LoadedPolicy | undefined
  const policy = () => {
    loaded ??= loadPolicy({env})
    return loaded
  }

  return {
    audit: overrides.audit ?? new FileAuditLog(dir(), () => clock.now(), {processChain, store}),
    clock,
    env,
    euid,
    home,
    interactive: overrides.interactive ?? (base.tty.stdin && base.tty.stderr),
    platform,
    policy: overrides.policy ?? policy,
    stderr: overrides.stderr ?? base.stderr,
    stdout: overrides.stdout ?? base.stdout,
    stdoutIsTerminal: overrides.stdoutIsTerminal ?? base.tty.stdout,
    store,
    tmpdir: overrides.tmpdir ?? tmpdir(),
    uid,
  }
}
