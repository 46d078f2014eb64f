/**
 * What an IAM Identity Center profile asks of av, from the user's ~/.aws/config (non-secret settings only):
 *   sso_session = <name>          the `[sso-session <name>]` section holds sso_start_url, sso_region and
 *                                 sso_registration_scopes (the AWS CLI's current form)
 *   sso_start_url, sso_region     the legacy form, on the profile itself
 *   sso_account_id, sso_role_name the role the helper releases credentials of (GetRoleCredentials)
 * The tokens are av's, kept per session (or per start URL for a legacy profile): one store item `sso:<key>`, the
 * key being what the AWS CLI hashes to name its cache file. Endpoints are genuine AWS unless the root policy names
 * `sso.oidcEndpoint` / `sso.portalEndpoint`; the user's endpoint settings are never consulted.
 */
import type {AwsProfiles, ProfileSettings} from '../aws/aws-profiles.js'
import type {SsoEndpoints} from '../aws/sso-client.js'
import type {Policy} from '../core/policy.js'

import {AvError} from '../core/errors.js'

export interface SsoTarget {
  /** The sso-session name, or the start URL of a legacy profile: names the token item and the CLI's cache file. */
  key: string
  /** The `sso_session` the profile names (null: legacy profile). */
  session: null | string
  startUrl: string
  endpoints: SsoEndpoints
  scopes: string[]
  /** Absent for a session-only sign-in (`av login --sso-session S`). */
  accountId?: string
  roleName?: string
}

const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/
const ACCOUNT = /^\d{12}$/
const DEFAULT_SCOPES = ['sso:account:access']

export function isSsoProfile(settings: ProfileSettings | undefined): boolean {
  return settings !== undefined && (settings.sso_session !== undefined || settings.sso_start_url !== undefined)
}

export function ssoAccount(key: string): string {
  return `sso:${key}`
}

export function isSsoAccount(account: string): boolean {
  return account.startsWith('sso:')
}

function invalid(message: string, suggestion: string): AvError {
  return new AvError('bad-input', message, {reason: 'config-invalid', suggestion})
}

/** The OIDC and portal endpoints for `region`: the root policy's, else genuine AWS. */
export function ssoEndpointsOf(region: string, policy: Policy): SsoEndpoints {
  if (!REGION.test(region)) {
    throw invalid(
      `sso_region ${JSON.stringify(region.slice(0, 40))} is not an AWS region name`,
      'Set sso_region in ~/.aws/config to the region of your IAM Identity Center, such as eu-west-1.',
    )
  }

  const suffix = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com'
  return {
    oidc: policy.sso?.oidcEndpoint ?? `https://oidc.${region}.${suffix}`,
    portal: policy.sso?.portalEndpoint ?? `https://portal.sso.${region}.${suffix}`,
    region,
  }
}

/** The sign-in settings of an sso-session section (`av login --sso-session S`). */
export function ssoSessionTarget(name: string, sessions: AwsProfiles, policy: Policy): SsoTarget {
  const section = sessions[name]
  if (!section) {
    throw invalid(
      `~/.aws/config has no [sso-session ${name}] section`,
      'Add it with sso_start_url and sso_region (`aws configure sso-session` writes one).',
    )
  }

  const startUrl = section.sso_start_url?.trim()
  const region = section.sso_region?.trim()
  if (!startUrl || !region) {
    throw invalid(
      `[sso-session ${name}] in ~/.aws/config needs both sso_start_url and sso_region`,
      'Add the missing setting to the section.',
    )
  }

  const scopes = section.sso_registration_scopes
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  return {
    endpoints: ssoEndpointsOf(region, policy),
    key: name,
    scopes: scopes && scopes.length > 0 ? scopes : DEFAULT_SCOPES,
    session: name,
    startUrl,
  }
}

/** The profile's IAM Identity Center target (sign-in and role), or null when it is not an SSO profile. */
export function ssoTargetOf(
  profile: string,
  profiles: AwsProfiles,
  sessions: AwsProfiles,
  policy: Policy,
): null | SsoTarget {
  const settings = profiles[profile]
  if (!settings || !isSsoProfile(settings)) return null
  const session = settings.sso_session?.trim()
  let target: SsoTarget
  if (session) {
    target = ssoSessionTarget(session, sessions, policy)
    const own = settings.sso_start_url?.trim()
    if (own && own !== target.startUrl) {
      throw invalid(
        `profile ${profile}'s sso_start_url differs from [sso-session ${session}]'s`,
        'Remove sso_start_url from the profile (the sso-session section holds it).',
      )
    }
  } else {
    const startUrl = settings.sso_start_url!.trim()
    const region = settings.sso_region?.trim()
    if (!region) {
      throw invalid(`profile ${profile} has sso_start_url but no sso_region`, 'Add sso_region to the profile.')
    }

    target = {endpoints: ssoEndpointsOf(region, policy), key: startUrl, scopes: [], session: null, startUrl}
  }

  const accountId = settings.sso_account_id?.trim()
  const roleName = settings.sso_role_name?.trim()
  if (accountId !== undefined && !ACCOUNT.test(accountId)) {
    throw invalid(`sso_account_id in profile ${profile} is not a 12-digit account id`, 'Fix sso_account_id.')
  }

  if (accountId) target.accountId = accountId
  if (roleName) target.roleName = roleName
  return target
}
