/**
 * `av doctor`, the mode and root custody: which mode av runs in and, in custody mode, whether the entry point is
 * trusted and answers, whether root runs the launcher, and whether durable keys are left in the user's keychain.
 */
import type {SecretStore} from '../store/secret-store.js'

import {AvError} from '../core/errors.js'
import {KEYCHAIN_LINE} from '../core/mode.js'
import {realTrustFs, type TrustFs} from '../core/trust.js'
import {callCustody, CustodyClientStore, custodyEntryOf, custodyLaunchOf} from '../custody/custody-client.js'
import {profileOfAccount} from '../store/credentials.js'
import {type Check, type DoctorDeps, fail, ok, warn} from './doctor-check.js'

/** Which mode av runs in: custody when the root-owned policy names a custody entry point, else keychain. */
export function checkMode(deps: DoctorDeps): Check {
  if (!deps.custody) return ok('mode', KEYCHAIN_LINE.replace(/^mode: /, ''))

  return ok(
    'mode',
    `custody mode: durable keys live in root custody (${deps.custody.dir}), reached through \`sudo -n ${deps.custody.entry}\``,
  )
}

const REINSTALL_CUSTODY = 'Run `sudo av install` again.'

/** Custody mode: the entry point passes the trust rule and answers `view`; the token key is in custody. */
export async function checkCustodyEntry(
  deps: DoctorDeps,
  custody: NonNullable<DoctorDeps['custody']>,
): Promise<Check[]> {
  const {entry} = custody
  try {
    custodyEntryOf({custody}, deps.trustFs ?? realTrustFs)
  } catch (error) {
    if (!(error instanceof AvError)) throw error
    return [
      fail('custody-entry', error.message, error.suggestion ?? REINSTALL_CUSTODY),
      warn('custody-view', 'not checked: the custody entry point is not trusted', 'Fix custody-entry first.'),
    ]
  }

  const trusted = ok('custody-entry', `the custody entry point ${entry} is root-owned and not writable by others`)
  let accounts: string[]
  try {
    accounts = await new CustodyClientStore(entry, deps.callCustody ?? callCustody).list()
  } catch (error) {
    if (!(error instanceof AvError)) throw error
    return [
      trusted,
      fail(
        'custody-view',
        `root custody does not answer \`sudo -n ${entry} view\`, so av cannot hand out credentials: ${error.message}`,
        error.suggestion ?? REINSTALL_CUSTODY,
      ),
    ]
  }

  const profiles = accounts.map((a) => profileOfAccount(a)).filter((p) => p !== null)
  return [
    trusted,
    ok(
      'custody-view',
      `root custody answers \`sudo -n ${entry} view\`: durable keys for ${profiles.length > 0 ? profiles.join(', ') : 'no profile yet'}`,
    ),
    checkRootLauncher(custody, deps.trustFs ?? realTrustFs),
  ]
}

/** Custody mode: root runs the launcher, and the AWS CLI it starts is non-dumpable (an execute-only interpreter). */
function checkRootLauncher(custody: NonNullable<DoctorDeps['custody']>, fs: TrustFs): Check {
  try {
    if (custodyLaunchOf({custody}, fs) === null) throw new AvError('internal', 'no custody')
  } catch (error) {
    if (!(error instanceof AvError)) throw error
    return fail('root-launcher', error.message, error.suggestion ?? REINSTALL_CUSTODY)
  }

  if (!custody.awsCli) {
    return warn(
      'root-launcher',
      'root runs the launcher, but the AWS CLI runs from a file you can read, so you (and an agent) can read its memory',
      'Use a Python-based AWS CLI (Debian/Ubuntu `apt-get install awscli`) and run `sudo av install` again.',
    )
  }

  return ok('root-launcher', `root runs the aws launcher (${custody.launch}); the AWS CLI runs non-dumpable`)
}

/**
 * Custody mode: a durable key (`aws:<profile>`) still in the user's own OS keychain is readable by every program
 * the user runs, custody or not. Lists the keychain by name; never reads a value.
 */
export async function checkKeychainLeftovers(store: SecretStore, usable: boolean): Promise<Check[]> {
  const fix = 'Fix the secret store first, then run `av doctor` again.'
  if (!usable) return [warn('keychain-leftovers', 'not checked: the OS keychain is unavailable', fix)]
  let profiles: string[]
  try {
    profiles = (await store.list()).map((a) => profileOfAccount(a)).filter((p) => p !== null)
  } catch (error) {
    if (!(error instanceof AvError)) throw error
    return [warn('keychain-leftovers', `not checked: the OS keychain could not be listed (${error.message})`, fix)]
  }

  if (profiles.length === 0) return [ok('keychain-leftovers', 'no durable AWS keys left in your OS keychain')]
  return profiles.map((profile) =>
    fail(
      `keychain-leftover:${profile}`,
      `the durable key of ${profile} is still in your OS keychain, which every program you run can read: custody does not protect it`,
      'Run `av migrate`: it moves the key into root custody.',
    ),
  )
}
