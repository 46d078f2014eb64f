/**
 * What every `av doctor` check group shares: the shape of a check ({id, status, message, fix}), the facts the
 * groups read (DoctorDeps, MachineFacts), and the small helpers that build checks and show paths.
 */
import * as nodeFs from 'node:fs'

import type {Policy} from '../core/policy.js'
import type {callCustody} from '../custody/custody-client.js'
import type {KeyAge} from '../keys/key-age.js'
import type {SecretStore} from '../store/secret-store.js'

import {type VerifyResult} from '../audit/audit-verify.js'
import {type PathEnv} from '../core/paths.js'
import {type TrustFs} from '../core/trust.js'

export type CheckStatus = 'fail' | 'ok' | 'warn'

export interface Check {
  id: string
  status: CheckStatus
  message: string
  /** What to do about it (absent when ok). */
  fix?: string
}

/** Facts about the machine that tests inject: /proc values and the first `aws` on PATH. */
export interface MachineFacts {
  /** Contents of /proc/sys/kernel/yama/ptrace_scope, null when Yama is absent. */
  ptraceScope(): null | string
  /** Contents of /proc/self/limits, null when unreadable. */
  limits(): null | string
  /** Contents of /proc/sys/kernel/core_pattern, null when unreadable. */
  corePattern(): null | string
  /** Absolute path of the first `aws` on PATH, null when none. */
  awsOnPath(): null | string
}

export interface DoctorDeps extends PathEnv {
  /** The user's OS keychain (custody mode too: the audit key lives there, and durable keys must not). */
  store: SecretStore
  /** The root-owned policy's `custody` (custody mode, `sudo av install`); absent in keychain mode. */
  custody?: Policy['custody']
  /** How `sudo -n <entry> <verb>` runs (tests pass a fake); callCustody by default. */
  callCustody?: typeof callCustody
  /** The running av's bin/run.js (what credential_process lines and the shim should name). */
  avBin: string
  /** The audit log's directory (stateDir). */
  auditDir: string
  /** The AWS CLI runtime argv prefix av runs (policy `awsCli`, else the Debian default). */
  runtime: string[]
  machine: MachineFacts
  trustFs?: TrustFs
  verify?: (dir: string, store: SecretStore) => Promise<VerifyResult>
  /** The durable keys' ages (keys/key-age.ts) and now: the `key-age` check; absent, no such check. */
  keyAges?: {now: number; read: () => Promise<KeyAge[]>}
}

export function readText(file: string): null | string {
  try {
    return nodeFs.readFileSync(file, 'utf8')
  } catch {
    return null
  }
}

export const ok = (id: string, message: string): Check => ({id, status: 'ok', message})
export const warn = (id: string, message: string, fix: string): Check => ({id, status: 'warn', message, fix})
export const fail = (id: string, message: string, fix: string): Check => ({id, status: 'fail', message, fix})

/** `~/x` for display when under HOME. */
export function tilde(file: string, home: string): string {
  return file === home || file.startsWith(home + '/') ? '~' + file.slice(home.length) : file
}

export function realpathOr(file: string): string {
  try {
    return nodeFs.realpathSync(file)
  } catch {
    return file
  }
}

export type IniData = Record<string, Record<string, string | undefined>>
