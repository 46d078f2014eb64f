/**
 * What a profile's settings in the user's ~/.aws/config ask of av (user-writable, so they may only tighten):
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
import type {AwsProfiles, ProfileSettings} from '../aws/aws-profiles.js'
import type {Policy} from '../core/policy.js'

import {AvError} from '../core/errors.js'

export const MIN_DURATION_SECONDS = 900
export const MAX_DURATION_SECONDS = 43_200
export const DEFAULT_DURATION_SECONDS = 3600
/** AWS limits role chaining (AssumeRole with role credentials) to one hour. */
export const CHAINED_ROLE_MAX_SECONDS = 3600

export function settingsOf(profiles: AwsProfiles, profile: string): ProfileSettings {
  return profiles[profile] ?? {}
}

export function policyCap(policy: Policy): number {
  const cap = policy.sessions?.maxDurationSeconds ?? MAX_DURATION_SECONDS
  return Math.min(MAX_DURATION_SECONDS, Math.max(MIN_DURATION_SECONDS, cap))
}

export interface DurationSetting {
  cap: number
  key: 'av_session_duration' | 'duration_seconds'
  profile: string
  raw: string | undefined
}

export function parseDuration({cap, key, profile, raw}: DurationSetting): number {
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
  | {mode: 'sso'; accountId: null | string; roleName: null | string}
  | {mode: 'login'; session: string}

export function optedOut(settings: ProfileSettings): boolean {
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
  if (!settings.role_arn && (settings.sso_session !== undefined || settings.sso_start_url !== undefined)) {
    return {accountId: settings.sso_account_id ?? null, mode: 'sso', roleName: settings.sso_role_name ?? null}
  }

  if (!settings.role_arn && settings.login_session?.trim())
    return {mode: 'login', session: settings.login_session.trim()}
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
