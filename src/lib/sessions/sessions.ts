/**
 * Short-lived credentials for the AWS CLI: the helper releases STS session credentials derived from the durable
 * key (GetSessionToken), or role credentials av assumed itself, never the durable key (unless the run is elevated
 * or the root policy lets a profile opt out). A leak from the CLI process is then bounded to hours and to what
 * session credentials can do.
 *
 * Cache: one secret-store item per profile (`session:<profile>`, `role:<profile>`), versioned JSON, reused while
 * at least 15 minutes remain (botocore refreshes below that). The cache-hit path never imports the AWS SDK.
 *
 * Settings, per profile in the user's ~/.aws/config (user-writable, so they may only tighten):
 *   av_session_duration = <seconds>   900–43200, default 3600, never above the root policy's
 *                                     sessions.maxDurationSeconds
 *   av_session = off                  release the durable key (honoured only when the root policy sets
 *                                     sessions.allowOptOut: an agent could otherwise flip it)
 *   mfa_serial                        GetSessionToken with an MFA code asked through an approver channel
 *   role_arn + source_profile         AssumeRole from the source profile's session (chains allowed), with
 *                                     role_session_name, external_id, duration_seconds
 * The STS endpoint is genuine AWS (global, or regional from the profile's `region`) unless the root policy
 * names `sts.endpoint`; `endpoint_url` / `[services]` in the user's config are ignored for av's own calls.
 */
import {createHash} from 'node:crypto'

import type {AuditSink} from '../audit/audit.js'
import type {AwsProfiles, ProfileSettings} from '../aws/aws-profiles.js'
import type {StsApi, StsTarget, TemporaryCredentials} from '../aws/sts-client.js'
import type {Clock} from '../core/clock.js'
import type {Policy} from '../core/policy.js'
import type {SecretStore} from '../store/secret-store.js'

import {AvError} from '../core/errors.js'
import {readKeyPair} from '../store/credentials.js'

export type {AwsProfiles, ProfileSettings} from '../aws/aws-profiles.js'

export type CredentialKind = 'durable' | 'role' | 'session'

export interface ReleasedCredentials {
  kind: CredentialKind
  accessKeyId: string
  secretAccessKey: string
  sessionToken?: string
  /** Milliseconds since the epoch; absent for the durable key. */
  expiration?: number
  /** True when the credentials came from the secret-store cache (no STS call was made). */
  cached: boolean
}

export interface CodeRequest {
  profile: string
  mfaSerial: string
  reason: string
}

export interface SessionDeps {
  clock: Clock
  store: SecretStore
  policy: Policy
  /** The user's AWS config profiles (only av_*, mfa_serial, role and region settings are read). */
  profiles: AwsProfiles
  /** The STS client; `sdkSts` from sts-client.ts in production (loaded lazily by the caller). */
  sts: () => Promise<StsApi>
  /** Asks a human for an MFA code (see code-prompt.ts); throws a refusal when no channel can. */
  askCode?: (request: CodeRequest) => Promise<string>
}

export interface SessionOptions {
  /** An approved elevated run: the durable key for a plain profile (role profiles still get role credentials). */
  elevated?: boolean
}

export const REFRESH_MARGIN_MS = 15 * 60 * 1000
export const MIN_DURATION_SECONDS = 900
export const MAX_DURATION_SECONDS = 43_200
export const DEFAULT_DURATION_SECONDS = 3600
/** AWS limits role chaining (AssumeRole with role credentials) to one hour. */
export const CHAINED_ROLE_MAX_SECONDS = 3600
export const CACHE_SCHEMA = 1

export function sessionAccount(profile: string): string {
  return `session:${profile}`
}

export function roleAccount(profile: string): string {
  return `role:${profile}`
}

export function isSessionAccount(account: string): boolean {
  return account.startsWith('session:') || account.startsWith('role:')
}

// ---------------------------------------------------------------------------------------------------------------
// Settings

function settingsOf(profiles: AwsProfiles, profile: string): ProfileSettings {
  return profiles[profile] ?? {}
}

function policyCap(policy: Policy): number {
  const cap = policy.sessions?.maxDurationSeconds ?? MAX_DURATION_SECONDS
  return Math.min(MAX_DURATION_SECONDS, Math.max(MIN_DURATION_SECONDS, cap))
}

interface DurationSetting {
  cap: number
  key: 'av_session_duration' | 'duration_seconds'
  profile: string
  raw: string | undefined
}

function parseDuration({cap, key, profile, raw}: DurationSetting): number {
  if (raw === undefined || raw.trim() === '') return Math.min(DEFAULT_DURATION_SECONDS, cap)
  const value = Number(raw.trim())
  if (!Number.isInteger(value) || value < MIN_DURATION_SECONDS || value > MAX_DURATION_SECONDS) {
    throw new AvError(
      'bad-input',
      `${key} = ${JSON.stringify(raw)} in profile ${profile} is not a whole number of seconds from ${MIN_DURATION_SECONDS} to ${MAX_DURATION_SECONDS}`,
      {
        reason: 'config-invalid',
        suggestion: `Set ${key} in ~/.aws/config to a value from ${MIN_DURATION_SECONDS} (15 min) to ${MAX_DURATION_SECONDS} (12 h).`,
      },
    )
  }

  // A user setting may only shorten below the root policy's cap.
  return Math.min(value, cap)
}

/** GetSessionToken duration for a profile: av_session_duration, bounded, never above the root policy's cap. */
export function sessionDurationOf(profile: string, profiles: AwsProfiles, policy: Policy): number {
  const raw = settingsOf(profiles, profile).av_session_duration
  return parseDuration({cap: policyCap(policy), key: 'av_session_duration', profile, raw})
}

export type SessionMode =
  | {mode: 'durable'; reason: string}
  | {mode: 'invalid'; problem: string}
  | {mode: 'role'; roleArn: string; source: string; durationSeconds: number}
  | {mode: 'session'; durationSeconds: number; mfa: boolean; optOutIgnored: boolean}

function optedOut(settings: ProfileSettings): boolean {
  const value = settings.av_session?.trim().toLowerCase()
  return value === 'off' || value === 'false' || value === 'no' || value === 'disabled'
}

/**
 * What the helper releases for a profile by default (for `av status`). Never reads a secret; a setting the helper
 * would refuse is reported as `invalid` with the problem, not thrown.
 */
export function sessionModeOf(profile: string, profiles: AwsProfiles, policy: Policy): SessionMode {
  try {
    return modeOf(profile, profiles, policy)
  } catch (error) {
    if (error instanceof AvError) return {mode: 'invalid', problem: error.message}
    throw error
  }
}

function modeOf(profile: string, profiles: AwsProfiles, policy: Policy): SessionMode {
  const settings = settingsOf(profiles, profile)
  if (settings.role_arn) {
    return {
      durationSeconds: parseDuration({
        cap: policyCap(policy),
        key: 'duration_seconds',
        profile,
        raw: settings.duration_seconds,
      }),
      mode: 'role',
      roleArn: settings.role_arn,
      source: settings.source_profile ?? '',
    }
  }

  const optOut = optedOut(settings)
  if (optOut && policy.sessions?.allowOptOut === true) {
    return {mode: 'durable', reason: 'av_session = off (allowed by the root policy)'}
  }

  return {
    durationSeconds: sessionDurationOf(profile, profiles, policy),
    mfa: Boolean(settings.mfa_serial),
    mode: 'session',
    optOutIgnored: optOut,
  }
}

/**
 * Is the session av releases for this profile one obtained with MFA (a plain profile with `mfa_serial`, so
 * GetSessionToken passes SerialNumber and TokenCode)? Role profiles, an allowed opt-out and settings the helper
 * would refuse are not. The launchers pass it to isElevatedRun (gate/rules.ts).
 */
export function isMfaSession(profile: string, profiles: AwsProfiles, policy: Policy): boolean {
  const mode = sessionModeOf(profile, profiles, policy)
  return mode.mode === 'session' && mode.mfa
}

const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/

/**
 * The STS endpoint for av's own calls: the root policy's `sts.endpoint`, else the genuine regional endpoint for
 * the profile's region, else the global one. The user's endpoint settings are never consulted.
 */
export function stsEndpointOf(region: string | undefined, policy: Policy): {endpoint: string; region: string} {
  const wanted = region?.trim() || undefined
  if (wanted !== undefined && !REGION.test(wanted)) {
    throw new AvError('bad-input', `region ${JSON.stringify(wanted)} is not an AWS region name`, {
      reason: 'config-invalid',
      suggestion: 'Set region in ~/.aws/config to a region name such as eu-west-1.',
    })
  }

  const signingRegion = wanted ?? 'us-east-1'
  if (policy.sts?.endpoint) return {endpoint: policy.sts.endpoint, region: signingRegion}
  if (wanted === undefined) return {endpoint: 'https://sts.amazonaws.com', region: signingRegion}
  const suffix = wanted.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com'
  return {endpoint: `https://sts.${wanted}.${suffix}`, region: wanted}
}

// ---------------------------------------------------------------------------------------------------------------
// Cache (secret store, never a file)

interface CacheRecord {
  binding: string
  credentials: TemporaryCredentials
}

function bindingOf(parts: Record<string, unknown>): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex')
}

function encodeCache(kind: 'role' | 'session', binding: string, c: TemporaryCredentials): string {
  return JSON.stringify({
    v: CACHE_SCHEMA,
    kind,
    binding,
    accessKeyId: c.accessKeyId,
    secretAccessKey: c.secretAccessKey,
    sessionToken: c.sessionToken,
    expiration: new Date(c.expiration).toISOString(),
  })
}

/** A cached item that cannot be read is a miss (it is disposable), never an error. */
function decodeCache(raw: null | string, kind: 'role' | 'session'): CacheRecord | null {
  if (raw === null) return null
  try {
    const r = JSON.parse(raw) as Record<string, unknown>
    const expiration = typeof r.expiration === 'string' ? Date.parse(r.expiration) : Number.NaN
    if (
      r.v !== CACHE_SCHEMA ||
      r.kind !== kind ||
      typeof r.binding !== 'string' ||
      typeof r.accessKeyId !== 'string' ||
      typeof r.secretAccessKey !== 'string' ||
      typeof r.sessionToken !== 'string' ||
      Number.isNaN(expiration)
    ) {
      return null
    }

    return {
      binding: r.binding,
      credentials: {
        accessKeyId: r.accessKeyId,
        expiration,
        secretAccessKey: r.secretAccessKey,
        sessionToken: r.sessionToken,
      },
    }
  } catch {
    return null
  }
}

function fresh(record: CacheRecord | null, binding: string, nowMs: number): record is CacheRecord {
  return record !== null && record.binding === binding && record.credentials.expiration - nowMs >= REFRESH_MARGIN_MS
}

// ---------------------------------------------------------------------------------------------------------------
// STS errors → messages a person can act on (never a secret)

const NETWORK_CODES = new Set([
  'EAI_AGAIN',
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EPIPE',
  'ETIMEDOUT',
])
const THROTTLING = new Set(['RequestLimitExceeded', 'Throttling', 'ThrottlingException', 'TooManyRequestsException'])

function redact(text: string): string {
  return text.replaceAll(/\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g, '<access key id>').slice(0, 300)
}

/** Known STS error names → what to tell the person: the problem and what to do. */
const STS_ERRORS: Array<{match: (name: string) => boolean; problem: (name: string) => string; suggestion: string}> = [
  {
    match: (name) => THROTTLING.has(name),
    problem: (name) => `AWS throttled the request (${name}) after retries`,
    suggestion: 'Wait a minute and run the command again; cached sessions avoid most STS calls.',
  },
  {
    match: (name) => name === 'InvalidClientTokenId',
    problem: () => 'AWS does not recognise the stored access key (InvalidClientTokenId)',
    suggestion:
      'The key was deleted or deactivated: create a new access key for this IAM user, put it in ~/.aws/credentials and run `av migrate` again.',
  },
  {
    match: (name) => name === 'SignatureDoesNotMatch',
    problem: () => 'the stored secret does not match its access key id (SignatureDoesNotMatch)',
    suggestion:
      'Put the correct key pair in ~/.aws/credentials and run `av migrate` again (also check the system clock).',
  },
  {
    match: (name) => name === 'ExpiredToken' || name === 'ExpiredTokenException',
    problem: (name) => `the credentials it was signed with have expired (${name})`,
    // The expired credentials may be a cached source session of a role chain: clear them all.
    suggestion: 'Run `av session clear` and try again.',
  },
  {
    match: (name) => name === 'RegionDisabledException',
    problem: () => "STS is not activated in the profile's region",
    suggestion: 'Activate the region for STS in IAM account settings, or set a different region for the profile.',
  },
]

function isNetworkError(name: string, code: string): boolean {
  return NETWORK_CODES.has(code) || NETWORK_CODES.has(name) || name === 'TimeoutError' || code === 'ABORT_ERR'
}

export function describeStsError(error: unknown, what: {action: string; endpoint: string; profile: string}): AvError {
  if (error instanceof AvError) return error
  const e = (error ?? {}) as {$metadata?: {httpStatusCode?: number}; code?: string; message?: string; name?: string}
  const name = e.name ?? 'Error'
  const {action, endpoint, profile} = what
  const head = `STS ${action} for profile ${profile} failed`

  if (isNetworkError(name, e.code ?? '')) {
    return new AvError('sts-failed', `${head}: ${endpoint} could not be reached (${e.code || name})`, {
      cause: error,
      suggestion: 'Check the network connection (and any firewall or VPN), then run the command again.',
    })
  }

  if (name === 'AccessDenied' || name === 'AccessDeniedException') {
    return new AvError('sts-failed', `${head}: access denied (${redact(e.message ?? '')})`, {
      cause: error,
      suggestion:
        'Check the MFA code, the role trust policy and the profile settings (role_arn, external_id, mfa_serial).',
    })
  }

  const known = STS_ERRORS.find((k) => k.match(name))
  if (known) {
    return new AvError('sts-failed', `${head}: ${known.problem(name)}`, {
      cause: error,
      suggestion: known.suggestion,
    })
  }

  const status = e.$metadata?.httpStatusCode
  return new AvError(
    'sts-failed',
    `${head} at ${endpoint}: ${name}${status ? ` (HTTP ${status})` : ''}: ${redact(e.message ?? 'no message')}`,
    {cause: error, suggestion: 'Run the command again; if it keeps failing, run `av doctor`.'},
  )
}

// ---------------------------------------------------------------------------------------------------------------
// Resolution

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

class Resolver {
  constructor(
    private readonly deps: SessionDeps,
    private readonly options: SessionOptions,
  ) {}

  async resolve(profile: string, chain: string[], mfaSerial?: string): Promise<Resolved> {
    const settings = settingsOf(this.deps.profiles, profile)
    if (!settings.role_arn) return this.base(profile, settings, mfaSerial ?? settings.mfa_serial)

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
    const chained = source.kind === 'role'
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

/**
 * The credentials the helper releases for `profile`: a cached or fresh STS session (default), role credentials
 * for a `role_arn` profile, or the durable key (elevated run, allowed opt-out). Throws an AvError when STS fails:
 * a cached session with less than 15 minutes left is never returned instead.
 */
export async function getSessionCredentials(
  profile: string,
  deps: SessionDeps,
  options: SessionOptions = {},
): Promise<ReleasedCredentials> {
  const resolved = await new Resolver(deps, options).resolve(profile, [])
  const released: ReleasedCredentials = {
    accessKeyId: resolved.accessKeyId,
    cached: resolved.cached,
    kind: resolved.kind,
    secretAccessKey: resolved.secretAccessKey,
  }
  if (resolved.sessionToken !== undefined) released.sessionToken = resolved.sessionToken
  if (resolved.expiration !== undefined) released.expiration = resolved.expiration
  return released
}

/** The credential_process document (Version 1) for released credentials. */
export function credentialProcessDocument(c: ReleasedCredentials): Record<string, number | string> {
  const doc: Record<string, number | string> = {
    Version: 1,
    AccessKeyId: c.accessKeyId,
    SecretAccessKey: c.secretAccessKey,
  }
  if (c.sessionToken !== undefined) doc.SessionToken = c.sessionToken
  if (c.expiration !== undefined) doc.Expiration = new Date(c.expiration).toISOString().replace(/\.\d{3}Z$/, 'Z')
  return doc
}

export interface ClearResult {
  cleared: string[]
}

/**
 * Drop cached session and role credentials (all profiles, or one) and record it. Never touches the durable keys:
 * the next run of each profile makes a fresh STS call.
 */
export async function clearSessions(
  deps: {audit: AuditSink; store: SecretStore},
  profile?: string,
): Promise<ClearResult> {
  const {audit, store} = deps
  const accounts =
    profile === undefined
      ? (await store.list()).filter((a) => isSessionAccount(a))
      : [sessionAccount(profile), roleAccount(profile)]
  const cleared: string[] = []
  for (const account of accounts) {
    // eslint-disable-next-line no-await-in-loop -- one keychain call at a time
    if (await store.delete(account)) cleared.push(account)
  }

  await audit.record({cleared, event: 'session-clear', profile: profile ?? null})
  return {cleared}
}
