/**
 * Resolving a profile to the credentials the helper releases: the durable key's STS session (GetSessionToken, with
 * an MFA code when the profile names mfa_serial), role credentials assumed from the source profile's (chains
 * followed, cycles refused), or an IAM Identity Center profile's role credentials (GetRoleCredentials with av's
 * own access token, refreshed without a person), each from the session cache while fresh. sessions.ts's
 * getSessionCredentials runs it.
 */
import type {ProfileSettings} from '../aws/aws-profiles.js'
import type {StsTarget, TemporaryCredentials} from '../aws/sts-client.js'
import type {ReleasedCredentials, SessionDeps, SessionOptions} from './session-types.js'

import {AvError} from '../core/errors.js'
import {readKeyPair} from '../store/credentials.js'
import {loginCredentials} from './login-session.js'
import {bindingOf, decodeCache, encodeCache, fresh, roleAccount, sessionAccount} from './session-cache.js'
import {
  CHAINED_ROLE_MAX_SECONDS,
  MAX_DURATION_SECONDS,
  optedOut,
  parseDuration,
  policyCap,
  sessionDurationOf,
  settingsOf,
  stsEndpointOf,
} from './session-settings.js'
import {type SsoTarget, ssoTargetOf} from './sso-settings.js'
import {accessTokenOf, describeSsoError} from './sso-tokens.js'
import {describeStsError} from './sts-errors.js'

const SESSION_NAME = /^[\w+=,.@-]{2,64}$/

function roleSessionNameOf(profile: string, settings: ProfileSettings, nowMs: number): string {
  const given = settings.role_session_name?.trim()
  if (given) {
    if (!SESSION_NAME.test(given)) {
      throw new AvError('bad-input', `role_session_name in profile ${profile} must be 2–64 of [A-Za-z0-9_+=,.@-]`, {
        reason: 'config-invalid',
      })
    }

    return given
  }

  const safe = profile.replaceAll(/[^\w+=,.@-]/g, '-')
  return `av-${safe}`.slice(0, 50) + `-${Math.floor(nowMs / 1000)}`
}

interface Resolved extends ReleasedCredentials {
  /** Whether an MFA code went into these credentials (directly or through their source). */
  mfa: boolean
}

export class Resolver {
  constructor(
    private readonly deps: SessionDeps,
    private readonly options: SessionOptions,
  ) {}

  async resolve(profile: string, chain: string[], mfaSerial?: string): Promise<Resolved> {
    const settings = settingsOf(this.deps.profiles, profile)
    if (!settings.role_arn) {
      const sso = ssoTargetOf(profile, this.deps.profiles, this.deps.ssoSessions ?? {}, this.deps.policy)
      if (sso) return this.sso(profile, sso)
      const loginSession = settings.login_session?.trim()
      if (loginSession) {
        const {clock, loginRefresh, store} = this.deps
        const got = await loginCredentials(profile, loginSession, settings.region?.trim(), {
          clock,
          store,
          ...(loginRefresh ? {refresh: loginRefresh} : {}),
        })
        return {...got, mfa: false}
      }

      return this.base(profile, settings, mfaSerial ?? settings.mfa_serial)
    }

    const source = settings.source_profile?.trim()
    if (!source) {
      const how = settings.credential_source ? 'credential_source is not supported' : 'it has no source_profile'
      throw new AvError('bad-input', `profile ${profile} has role_arn but av cannot assume it: ${how}`, {
        reason: 'config-invalid',
        suggestion: `Set source_profile = <a profile migrated to av> in [profile ${profile}] of ~/.aws/config.`,
      })
    }

    const path = [...chain, profile]
    if (source !== profile && path.includes(source)) {
      throw new AvError('bad-input', `role profiles form a cycle: ${[...path, source].join(' → ')}`, {
        reason: 'config-invalid',
        suggestion: 'Make the last source_profile of the chain a profile with a key migrated to av.',
      })
    }

    const wantMfa = settings.mfa_serial ?? mfaSerial
    const sourceCredentials =
      source === profile ? await this.base(profile, settings, wantMfa) : await this.resolve(source, path, wantMfa)
    return this.role(profile, settings, sourceCredentials, wantMfa)
  }

  private async base(profile: string, settings: ProfileSettings, mfaSerial: string | undefined): Promise<Resolved> {
    const {clock, policy, store} = this.deps
    const durable = await readKeyPair(store, profile)
    if (!durable) {
      throw new AvError('not-found', `profile ${profile} has no key stored in av's keychain`, {
        reason: 'not-stored',
        suggestion: 'Run `av migrate` to move its key from ~/.aws/credentials into the keychain.',
      })
    }

    const optOut = optedOut(settings) && policy.sessions?.allowOptOut === true
    if (this.options.elevated || optOut || durable.sessionToken !== undefined) {
      // An elevated run, an allowed opt-out, or a stored pair that is itself temporary (GetSessionToken
      // refuses session credentials): the stored pair, as before.
      return {...durable, cached: false, kind: 'durable', mfa: false}
    }

    const durationSeconds = sessionDurationOf(profile, this.deps.profiles, policy)
    const {endpoint, region} = stsEndpointOf(settings.region, policy)
    const binding = bindingOf({durable: durable.accessKeyId, durationSeconds, endpoint, mfaSerial: mfaSerial ?? null})
    const account = sessionAccount(profile)
    const now = clock.now()
    const cachedRecord = decodeCache(await store.get(account), 'session')
    if (fresh(cachedRecord, binding, now)) {
      return {...cachedRecord.credentials, cached: true, kind: 'session', mfa: mfaSerial !== undefined}
    }

    const mfa = mfaSerial ? {serialNumber: mfaSerial, tokenCode: await this.code(profile, mfaSerial)} : undefined
    const target: StsTarget = {credentials: durable, endpoint, region}
    let credentials: TemporaryCredentials
    try {
      const sts = await this.deps.sts()
      credentials = await sts.getSessionToken(target, {durationSeconds, ...(mfa ? {mfa} : {})})
    } catch (error) {
      throw describeStsError(error, {action: 'GetSessionToken', endpoint, profile})
    }

    await store.set(account, encodeCache('session', binding, credentials))
    return {...credentials, cached: false, kind: 'session', mfa: mfa !== undefined}
  }

  /** Role credentials of an IAM Identity Center profile (cached as `role:<profile>`, like an assumed role's). */
  private async sso(profile: string, target: SsoTarget): Promise<Resolved> {
    const {clock, store} = this.deps
    const {accountId, roleName} = target
    if (!accountId || !roleName) {
      throw new AvError('bad-input', `profile ${profile} signs in through IAM Identity Center but names no role`, {
        reason: 'config-invalid',
        suggestion: `Set sso_account_id and sso_role_name in [profile ${profile}] of ~/.aws/config.`,
      })
    }

    const {sso} = this.deps
    if (!sso) {
      throw new AvError('internal', 'this av process cannot reach IAM Identity Center', {reason: 'internal'})
    }

    const binding = bindingOf({accountId, portal: target.endpoints.portal, roleName, sso: target.startUrl})
    const account = roleAccount(profile)
    const cachedRecord = decodeCache(await store.get(account), 'role')
    if (fresh(cachedRecord, binding, clock.now())) {
      return {...cachedRecord.credentials, cached: true, kind: 'role', mfa: false}
    }

    const tokens = {clock, sso, store}
    const roleCredentials = async (accessToken: string) => {
      const api = await sso()
      return api.getRoleCredentials(target.endpoints, {accessToken, accountId, roleName})
    }

    let credentials: TemporaryCredentials
    try {
      credentials = await roleCredentials(await accessTokenOf(target, tokens))
    } catch (error) {
      if ((error as {name?: string}).name !== 'UnauthorizedException') {
        throw describeSsoError(error, target, `GetRoleCredentials (${accountId}/${roleName})`)
      }

      // The portal no longer takes the stored token (revoked, or the clocks disagree): once more with a fresh one.
      try {
        credentials = await roleCredentials(await accessTokenOf(target, tokens, {force: true}))
      } catch (retryError) {
        throw describeSsoError(retryError, target, `GetRoleCredentials (${accountId}/${roleName})`)
      }
    }

    await store.set(account, encodeCache('role', binding, credentials))
    return {...credentials, cached: false, kind: 'role', mfa: false}
  }

  private async code(profile: string, mfaSerial: string): Promise<string> {
    if (!this.deps.askCode) {
      throw new AvError(
        'refused',
        `profile ${profile} needs an MFA code (mfa_serial) and no approver channel can ask for it`,
        {
          reason: 'mfa-unavailable',
          suggestion:
            'Run the command from a terminal or a desktop session, or configure an approver program in the root policy.',
        },
      )
    }

    const code = (await this.deps.askCode({mfaSerial, profile, reason: `MFA code for AWS profile ${profile}`})).trim()
    if (!/^\d{6}$/.test(code)) {
      throw new AvError('refused', `the MFA code given for profile ${profile} is not 6 digits`, {
        reason: 'mfa-unavailable',
        suggestion: 'Run the command again and enter the current code from the MFA device.',
      })
    }

    return code
  }

  private async role(
    profile: string,
    settings: ProfileSettings,
    source: Resolved,
    mfaSerial: string | undefined,
  ): Promise<Resolved> {
    const {clock, policy, store} = this.deps
    // Console sign-in credentials may be a role's session too: AWS then limits the chained role to an hour.
    const chained = source.kind === 'role' || source.kind === 'login'
    const cap = Math.min(policyCap(policy), chained ? CHAINED_ROLE_MAX_SECONDS : MAX_DURATION_SECONDS)
    const durationSeconds = parseDuration({cap, key: 'duration_seconds', profile, raw: settings.duration_seconds})
    const {endpoint, region} = stsEndpointOf(settings.region, policy)
    const roleArn = settings.role_arn!
    const externalId = settings.external_id?.trim() || undefined
    // The MFA code goes to GetSessionToken of the source; only a durable source must pass it to AssumeRole.
    const mfaHere = mfaSerial !== undefined && !source.mfa ? mfaSerial : undefined
    const binding = bindingOf({
      durationSeconds,
      endpoint,
      externalId: externalId ?? null,
      mfaSerial: mfaSerial ?? null,
      roleArn,
      roleSessionName: settings.role_session_name ?? null,
      source: settings.source_profile,
    })
    const account = roleAccount(profile)
    const now = clock.now()
    const cachedRecord = decodeCache(await store.get(account), 'role')
    if (fresh(cachedRecord, binding, now)) {
      return {...cachedRecord.credentials, cached: true, kind: 'role', mfa: mfaSerial !== undefined}
    }

    const roleSessionName = roleSessionNameOf(profile, settings, now)
    const mfa = mfaHere ? {serialNumber: mfaHere, tokenCode: await this.code(profile, mfaHere)} : undefined
    const target: StsTarget = {
      credentials: {
        accessKeyId: source.accessKeyId,
        secretAccessKey: source.secretAccessKey,
        ...(source.sessionToken === undefined ? {} : {sessionToken: source.sessionToken}),
      },
      endpoint,
      region,
    }
    let credentials: TemporaryCredentials
    try {
      const sts = await this.deps.sts()
      credentials = await sts.assumeRole(target, {
        durationSeconds,
        roleArn,
        roleSessionName,
        ...(externalId ? {externalId} : {}),
        ...(mfa ? {mfa} : {}),
      })
    } catch (error) {
      throw describeStsError(error, {action: `AssumeRole (${roleArn})`, endpoint, profile})
    }

    await store.set(account, encodeCache('role', binding, credentials))
    return {...credentials, cached: false, kind: 'role', mfa: mfaSerial !== undefined}
  }
}
