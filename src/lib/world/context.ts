/**
 * The world as av's lib sees it. Commands build the real one with `realContext()`; tests build their own
 * with fakes (memory store, fixed clock, captured output). No module reads process.env, the clock or the
 * keychain behind the context's back.
 */
import {homedir, tmpdir} from 'node:os'

import type {AuditSink} from '../audit/audit.js'
import type {Clock} from '../core/clock.js'
import type {SecretStore} from '../store/secret-store.js'

import {FileAuditLog, procProcessChain} from '../audit/audit.js'
import {systemClock} from '../core/clock.js'
import {auditDir} from '../core/paths.js'
import {KeyringStore} from '../store/secret-store.js'

export interface Output {
  write(text: string): void
}

export interface Context {
  audit: AuditSink
  clock: Clock
  env: NodeJS.ProcessEnv
  home: string
  /** Whether a person can answer on this terminal (stdin and stderr are TTYs). */
  interactive: boolean
  platform: NodeJS.Platform
  stderr: Output
  stdout: Output
  store: SecretStore
  tmpdir: string
  uid: number
}

/**
 * The user's audit trail directory: from the account database, not the environment (paths.ts `auditDir`). `av
 * log`, `av doctor` and every writer ask this one function, so they agree on one place.
 */
export function userAuditDir(ctx: Pick<Context, 'env' | 'platform' | 'uid'>): string {
  return auditDir({env: ctx.env, euid: process.geteuid?.() ?? ctx.uid, platform: ctx.platform, uid: ctx.uid})
}

export function realContext(overrides: Partial<Context> = {}): Context {
  const env = overrides.env ?? process.env
  const home = overrides.home ?? env.HOME ?? homedir()
  const platform = overrides.platform ?? process.platform
  const store = overrides.store ?? new KeyringStore({platform})
  const uid = overrides.uid ?? process.getuid?.() ?? -1
  // The audit chain's key and head live in the secret store; on Linux each line names who asked (a /proc walk).
  const processChain = platform === 'linux' ? (pid: number) => procProcessChain(pid) : undefined
  const dir = () => userAuditDir({env, platform, uid})
  return {
    audit: overrides.audit ?? new FileAuditLog(dir(), Date.now, {processChain, store}),
    clock: overrides.clock ?? systemClock,
    env,
    home,
    interactive: overrides.interactive ?? Boolean(process.stdin.isTTY && process.stderr.isTTY),
    platform,
    stderr: overrides.stderr ?? {write: (t) => process.stderr.write(t)},
    stdout: overrides.stdout ?? {write: (t) => process.stdout.write(t)},
    store,
    tmpdir: overrides.tmpdir ?? tmpdir(),
    uid,
  }
}
