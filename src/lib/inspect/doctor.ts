/**
 * `av doctor`: what is still exposed, and what av depends on. Each check is a small function over injected
 * facts (files under the user's HOME, the environment, the secret store, trust facts, /proc values) and returns
 * {id, status, message, fix}. `fail` means something is exposed or av's protection is off; `warn` means a
 * weaker spot worth fixing; the command exits 1 when any check fails.
 *
 * This file runs the groups in report order and formats the report; each group is its own file: doctor-keys
 * (plaintext keys), doctor-install (profiles, av and the runtime root-owned, `aws` on PATH), doctor-cli (the AWS
 * CLI's extras), doctor-custody (the mode, root custody), doctor-store (the secret store, the audit chain) and
 * doctor-machine (ptrace, core dumps); doctor-check holds what they share.
 *
 * Never a secret in a message: checks name files, profiles and variables, never values.
 */
import {loadSharedConfigFiles} from '@smithy/shared-ini-file-loader'
import path from 'node:path'

import {awsConfigFile, awsCredentialsFile} from '../core/paths.js'
import {type Check, type CheckStatus, type DoctorDeps, type IniData} from './doctor-check.js'
import {checkCliExtras} from './doctor-cli.js'
import {checkCustodyEntry, checkKeychainLeftovers, checkMode} from './doctor-custody.js'
import {checkAvInstall, checkAwsOnPath, checkProfiles, checkRuntime} from './doctor-install.js'
import {checkCache, checkEnvironment, checkKeyAge, checkPlaintextKeys} from './doctor-keys.js'
import {checkCoreDumps, checkPtrace} from './doctor-machine.js'
import {checkAuditChain, checkStore} from './doctor-store.js'

export interface DoctorReport {
  checks: Check[]
  /** True when any check failed (something is exposed or av's protection is off). */
  exposed: boolean
  counts: Record<CheckStatus, number>
}

async function loadAwsFiles(deps: DoctorDeps): Promise<{config: IniData; credentials: IniData}> {
  const files = await loadSharedConfigFiles({
    configFilepath: awsConfigFile(deps),
    filepath: awsCredentialsFile(deps),
    ignoreCache: true,
  })
  return {config: files.configFile as IniData, credentials: files.credentialsFile as IniData}
}

export async function runDoctor(deps: DoctorDeps): Promise<DoctorReport> {
  const files = await loadAwsFiles(deps)
  const aws = path.join(deps.home, '.aws')
  const store = await checkStore(deps.store)
  // Custody mode: the token key is root's (custody-entry answers for it), and the keychain must hold no durable key.
  const custody = deps.custody
    ? [...(await checkCustodyEntry(deps, deps.custody)), ...(await checkKeychainLeftovers(deps.store, store.usable))]
    : []
  // In custody mode the keychain holds no key av uses: unavailable, it costs only the audit chain its HMAC.
  const storeChecks = deps.custody
    ? store.checks
        .filter((c) => c.id !== 'token-key')
        .map((c) =>
          c.status === 'fail'
            ? {
                ...c,
                message: `${c.message} (custody mode keeps no key there, but your audit trail is then not tamper-evident)`,
                status: 'warn' as const,
              }
            : c,
        )
    : store.checks
  const checks: Check[] = [
    checkPlaintextKeys(deps, files),
    checkEnvironment(deps.env),
    checkCache(
      'cli-cache',
      path.join(aws, 'cli', 'cache'),
      deps.home,
      'Delete them (`rm ~/.aws/cli/cache/*.json`): av runs keep role credentials in their private HOME.',
    ),
    checkCache(
      'sso-cache',
      path.join(aws, 'sso', 'cache'),
      deps.home,
      'Run `av migrate`: it moves the tokens your profiles use into av (then `av login` renews them). Or `aws sso logout`.',
    ),
    checkCache(
      'login-cache',
      path.join(aws, 'login', 'cache'),
      deps.home,
      "Run `av migrate`: it moves your login_session profiles' sign-ins into av, which renews them. Or `aws logout`.",
    ),
    ...checkProfiles(deps, files.config),
    checkAvInstall(deps),
    checkRuntime(deps),
    checkAwsOnPath(deps),
    ...checkCliExtras(deps, files.config),
    checkMode(deps),
    ...storeChecks,
    ...custody,
    ...(deps.keyAges ? [await checkKeyAge(deps.keyAges)] : []),
    checkPtrace(deps.platform, deps.machine),
    checkCoreDumps(deps.platform, deps.machine),
    await checkAuditChain(deps, store.usable),
  ]
  const counts = {fail: 0, ok: 0, warn: 0}
  for (const check of checks) counts[check.status]++
  return {checks, counts, exposed: counts.fail > 0}
}

/** Human form: one line per check, its fix indented below. */
export function formatDoctorReport(report: DoctorReport): string {
  const mark: Record<CheckStatus, string> = {fail: 'FAIL', ok: 'ok  ', warn: 'warn'}
  const lines = report.checks.flatMap((c) => [
    `${mark[c.status]}  ${c.id}: ${c.message}`,
    ...(c.fix ? [`      fix: ${c.fix}`] : []),
  ])
  lines.push(
    '',
    `${report.counts.ok} ok, ${report.counts.warn} warning(s), ${report.counts.fail} failure(s)` +
      (report.exposed ? ': something is exposed (exit 1)' : ''),
  )
  return lines.join('\n')
}
