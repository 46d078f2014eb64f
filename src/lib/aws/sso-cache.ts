/**
 * Where the AWS CLI keeps a profile's IAM Identity Center tokens: `~/.aws/sso/cache/<sha1>.json`, named by the SHA-1
 * of the profile's `sso_session` (or, for a legacy profile without one, of its `sso_start_url`). The file holds the
 * access token, usually a refresh token and the OIDC client's secret, in plaintext. av reads only whether it is
 * there, whether it holds a refresh token, and when the access token expires; never a token.
 */
import {createHash} from 'node:crypto'
import path from 'node:path'

import {type ProfileSettings, ssoSessionSettings} from './aws-profiles.js'

export interface SsoProfile {
  /** The `sso_session` the profile names (null: a legacy profile with its own `sso_start_url`). */
  session: null | string
  startUrl?: string
  account?: string
  role?: string
}

export interface SsoTokenCache {
  file: string
  /** The access token's expiry as the file states it (ISO 8601), or null. */
  expiresAt: null | string
  /** The file holds a refresh token: role credentials can be minted from it after the access token expires. */
  refreshToken: boolean
}

/** The profile's IAM Identity Center settings, or null when it is not an SSO profile. */
export function ssoProfileOf(settings: ProfileSettings | undefined, configText: string): null | SsoProfile {
  if (!settings) return null
  const session = settings.sso_session ?? null
  const startUrl =
    settings.sso_start_url ?? (session === null ? undefined : ssoSessionSettings(configText, session)?.sso_start_url)
  if (session === null && startUrl === undefined) return null
  const found: SsoProfile = {session}
  if (startUrl !== undefined) found.startUrl = startUrl
  if (settings.sso_account_id !== undefined) found.account = settings.sso_account_id
  if (settings.sso_role_name !== undefined) found.role = settings.sso_role_name
  return found
}

/** The cache file the AWS CLI keeps a sign-in's token in: named by the SHA-1 of the session name or start URL. */
export function ssoCacheFileOf(cacheDir: string, key: string): string {
  return path.join(cacheDir, `${createHash('sha1').update(key).digest('hex')}.json`)
}

/** The cache file the AWS CLI reads and writes for this profile's token. */
export function ssoCacheFile(cacheDir: string, sso: SsoProfile): null | string {
  const key = sso.session ?? sso.startUrl
  return key === undefined ? null : ssoCacheFileOf(cacheDir, key)
}

/**
 * The file a console sign-in (`aws login`) is kept in, by the AWS CLI and the SDK's login provider alike: the
 * SHA-256 of the login_session ARN, under `~/.aws/login/cache` or AWS_LOGIN_CACHE_DIRECTORY.
 */
export function loginCacheFileOf(cacheDir: string, session: string): string {
  return path.join(cacheDir, `${createHash('sha256').update(session, 'utf8').digest('hex')}.json`)
}

/** What the cache file says about the token (null when it is missing or holds no token). */
export function readSsoTokenCache(file: string, read: (file: string) => null | string): null | SsoTokenCache {
  const text = read(file)
  if (text === null) return null
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch {
    return null
  }

  if (typeof doc !== 'object' || doc === null) return null
  const {accessToken, expiresAt, refreshToken} = doc as Record<string, unknown>
  if (typeof accessToken !== 'string' && typeof refreshToken !== 'string') return null
  return {
    expiresAt: typeof expiresAt === 'string' ? expiresAt : null,
    file,
    refreshToken: typeof refreshToken === 'string' && refreshToken !== '',
  }
}
