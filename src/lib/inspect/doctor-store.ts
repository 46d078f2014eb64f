/**
 * `av doctor`, the secret store and what it keys: the store reachable and unlocked, the token key present, and the
 * audit trail's HMAC chain intact.
 */
import type {SecretStore} from '../store/secret-store.js'

import {verifyAuditLog} from '../audit/audit-verify.js'
import {AvError} from '../core/errors.js'
import {type Check, type DoctorDeps, fail, ok, warn} from './doctor-check.js'

/** The secret store reachable and unlocked, and the token HMAC key present. */
export async function checkStore(store: SecretStore): Promise<{checks: Check[]; usable: boolean}> {
  try {
    await store.probe()
  } catch (error) {
    const suggestion = error instanceof AvError ? error.suggestion : undefined
    return {
      checks: [
        fail(
          'secret-store',
          `the secret store cannot be used: ${(error as Error).message}`,
          suggestion ?? 'Unlock your keychain.',
        ),
        warn('token-key', 'not checked: the secret store is unavailable', 'Fix the secret store first.'),
      ],
      usable: false,
    }
  }

  const key = await store.get('token-key')
  return {
    checks: [
      ok('secret-store', 'the secret store is reachable and unlocked'),
      key === null
        ? warn(
            'token-key',
            'no token key in the secret store yet (it is created on the first `av run`)',
            'Run any `av run -- aws …` once.',
          )
        : ok('token-key', 'the token key is in the secret store'),
    ],
    usable: true,
  }
}

export async function checkAuditChain(deps: DoctorDeps, storeUsable: boolean): Promise<Check> {
  if (!storeUsable)
    return warn('audit-chain', 'not checked: the secret store is unavailable', 'Fix the secret store first.')
  const result = await (deps.verify ?? verifyAuditLog)(deps.auditDir, deps.store)
  if (result.ok && result.unprotected) {
    const {count, first} = result.unprotected
    return warn(
      'audit-chain',
      `the audit trail is intact (${result.lines} lines), but the last ${count}, from ${first.file} line ${first.line}, were written without the audit key and are not tamper-evident`,
      'Make the keychain available to av (see secret-store); the next record vouches for them.',
    )
  }

  if (result.ok) return ok('audit-chain', `the audit trail is intact (${result.lines} lines)`)
  const {file, line, problem} = result.firstBroken!
  return fail(
    'audit-chain',
    `the audit trail is broken at ${file} line ${line}: ${problem}`,
    `Find out who changed ${deps.auditDir} (\`av log --verify\` shows the first broken line); move the files aside to start a new trail.`,
  )
}
