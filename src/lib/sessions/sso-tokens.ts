/**
 * av's IAM Identity Center tokens: one secret-store item per sign-in (`sso:<session or start URL>`, see
 * sso-settings.ts) holding the OIDC client registration, the access token and the refresh token. Never a file: the
 * AWS CLI's own cache (`~/.aws/sso/cache/*.json`) is readable by every process of the user, av's store is not (root
 * custody) or is the keychain.
 *
 * - signIn: the OIDC device authorization grant (register a client, or reuse a live registration; show the URL and
 *   code; poll CreateToken until the person approved it in a browser); what `av login` runs (as root in custody).
 * - accessTokenOf: a usable access token, refreshed with the refresh token without a person when it is about to
 *   expire; when it cannot be, the refusal `sso-login-needed` says to run `av login`.
 * - fromCliCache: the AWS CLI's cache document as an item (`av migrate` absorbs plaintext caches).
 */
import type {ClientRegistration, DeviceAuthorization, SignInPrompt, SsoApi, SsoToken} from '../aws/sso-client.js'
import type {Clock} from '../core/clock.js'
import type {SecretStore} from '../store/secret-store.js'
import type {SsoTarget} from './sso-settings.js'

import {AvError} from '../core/errors.js'
import {ssoAccount} from './sso-settings.js'

export const SSO_ITEM_SCHEMA = 1
/** Refresh an access token with less than this left (botocore's window), and never use one with under a minute. */
export const TOKEN_REFRESH_MS = 15 * 60 * 1000
const TOKEN_MIN_MS = 60 * 1000
/** A client registration is reused for a new sign-in only while it has at least this long to live. */
const REGISTRATION_MIN_MS = 24 * 3600 * 1000

export interface SsoItem {
  startUrl: string
  region: string
  client: ClientRegistration
  token: SsoToken
}

export function encodeSsoItem(item: SsoItem): string {
  return JSON.stringify({
    v: SSO_ITEM_SCHEMA,
    kind: 'sso',
    startUrl: item.startUrl,
    region: item.region,
    clientId: item.client.clientId,
    clientSecret: item.client.clientSecret,
    registrationExpiresAt: new Date(item.client.expiresAt).toISOString(),
    accessToken: item.token.accessToken,
    expiresAt: new Date(item.token.expiresAt).toISOString(),
    ...(item.token.refreshToken === undefined ? {} : {refreshToken: item.token.refreshToken}),
  })
}

function str(doc: Record<string, unknown>, key: string): string | undefined {
  const value = doc[key]
  return typeof value === 'string' && value !== '' ? value : undefined
}

function time(doc: Record<string, unknown>, key: string): number {
  const value = str(doc, key)
  return value === undefined ? Number.NaN : Date.parse(value)
}

/** An item (av's own, or the AWS CLI's cache document): null when it is not one a token can be used from. */
function itemOf(doc: Record<string, unknown>): null | SsoItem {
  const startUrl = str(doc, 'startUrl')
  const region = str(doc, 'region')
  const accessToken = str(doc, 'accessToken')
  const expiresAt = time(doc, 'expiresAt')
  if (!startUrl || !region || !accessToken || Number.isNaN(expiresAt)) return null
  const refreshToken = str(doc, 'refreshToken')
  const registrationExpiresAt = time(doc, 'registrationExpiresAt')
  return {
    client: {
      clientId: str(doc, 'clientId') ?? '',
      clientSecret: str(doc, 'clientSecret') ?? '',
      expiresAt: Number.isNaN(registrationExpiresAt) ? 0 : registrationExpiresAt,
    },
    region,
    startUrl,
    token: {accessToken, expiresAt, ...(refreshToken === undefined ? {} : {refreshToken})},
  }
}

/** A stored item; one that cannot be read is treated as absent (sign in again), never echoed. */
export function decodeSsoItem(raw: null | string): null | SsoItem {
  if (raw === null) return null
  try {
    const doc = JSON.parse(raw) as Record<string, unknown>
    return doc.v === SSO_ITEM_SCHEMA && doc.kind === 'sso' ? itemOf(doc) : null
  } catch {
    return null
  }
}

/** The AWS CLI's `~/.aws/sso/cache/<sha1>.json` document as an item, or null when it holds no usable token. */
export function fromCliCache(text: string): null | SsoItem {
  try {
    const doc = JSON.parse(text) as unknown
    return typeof doc === 'object' && doc !== null ? itemOf(doc as Record<string, unknown>) : null
  } catch {
    return null
  }
}

export interface SsoDeps {
  clock: Clock
  store: SecretStore
  sso: () => Promise<SsoApi>
}

function loginNeeded(target: SsoTarget, why: string): AvError {
  const flag = target.session === null ? '--profile <name>' : `--sso-session ${target.session}`
  return new AvError('refused', `IAM Identity Center sign-in for ${target.startUrl} is needed: ${why}`, {
    reason: 'sso-login-needed',
    refusal: true,
    suggestion: `Run \`av login ${flag}\` yourself (it shows a URL and a code to approve in your browser).`,
  })
}

const LOGIN_AGAIN = new Set([
  'AccessDeniedException',
  'ExpiredTokenException',
  'InvalidClientException',
  'InvalidGrantException',
  'InvalidRequestException',
  'UnauthorizedClientException',
  'UnauthorizedException',
])

/** An SSO service failure as an AvError a person can act on (never a token). */
export function describeSsoError(error: unknown, target: SsoTarget, action: string): AvError {
  if (error instanceof AvError) return error
  const e = (error ?? {}) as {$metadata?: {httpStatusCode?: number}; code?: string; message?: string; name?: string}
  const name = e.name ?? 'Error'
  if (LOGIN_AGAIN.has(name)) return loginNeeded(target, `${action} was refused (${name})`)
  const status = e.$metadata?.httpStatusCode
  return new AvError(
    'sts-failed',
    `IAM Identity Center ${action} failed: ${name}${status ? ` (HTTP ${status})` : ''}${e.code ? ` ${e.code}` : ''}`,
    {
      cause: error,
      reason: 'sso-failed',
      suggestion: `Check the network connection to ${target.endpoints.oidc} and ${target.endpoints.portal}, then run the command again.`,
    },
  )
}

/**
 * A usable access token for `target`: the stored one while it has 15 minutes left, else one refreshed with the
 * refresh token (stored before it is used). When the refresh fails but the old token still has a minute, the old
 * one serves; otherwise the refusal says to sign in again. `force`: the portal refused the stored token (revoked,
 * or the clocks disagree), so only a refreshed one will do.
 */
export async function accessTokenOf(
  target: SsoTarget,
  deps: SsoDeps,
  options: {force?: boolean} = {},
): Promise<string> {
  const account = ssoAccount(target.key)
  const item = decodeSsoItem(await deps.store.get(account))
  if (!item) throw loginNeeded(target, 'av holds no token for it')
  if (item.startUrl !== target.startUrl) throw loginNeeded(target, 'the token av holds is for another start URL')
  const now = deps.clock.now()
  const left = options.force ? 0 : item.token.expiresAt - now
  if (left >= TOKEN_REFRESH_MS) return item.token.accessToken
  const {refreshToken} = item.token
  const canRefresh = refreshToken !== undefined && item.client.clientId !== '' && item.client.expiresAt > now
  if (canRefresh) {
    try {
      const api = await deps.sso()
      const fresh = await api.createToken(target.endpoints, {
        client: item.client,
        grant: {kind: 'refresh', refreshToken},
      })
      // A refresh that returns no new refresh token keeps the old one (it stays valid until it expires).
      const token: SsoToken = {...fresh, refreshToken: fresh.refreshToken ?? refreshToken}
      await deps.store.set(account, encodeSsoItem({...item, token}))
      return token.accessToken
    } catch (error) {
      if (left >= TOKEN_MIN_MS) return item.token.accessToken
      throw describeSsoError(error, target, 'token refresh')
    }
  }

  if (left >= TOKEN_MIN_MS) return item.token.accessToken
  const why = options.force
    ? 'IAM Identity Center no longer takes its access token'
    : 'its access token expired and there is no refresh token'
  throw loginNeeded(target, refreshToken === undefined || options.force ? why : 'its sign-in expired')
}

export interface SignInDeps extends SsoDeps {
  /** Shows the person where to approve the sign-in (and may open a browser). */
  show: (authorization: SignInPrompt) => void
  sleep: (ms: number) => Promise<void>
}

export interface SignInResult {
  key: string
  startUrl: string
  /** Milliseconds since the epoch. */
  expiresAt: number
  refreshToken: boolean
}

async function registration(target: SsoTarget, deps: SignInDeps, api: SsoApi): Promise<ClientRegistration> {
  const held = decodeSsoItem(await deps.store.get(ssoAccount(target.key)))
  const live =
    held !== null &&
    held.startUrl === target.startUrl &&
    held.region === target.endpoints.region &&
    held.client.clientId !== '' &&
    held.client.expiresAt - deps.clock.now() > REGISTRATION_MIN_MS
  if (live) return held.client
  try {
    return await api.registerClient(target.endpoints, {clientName: 'av', scopes: target.scopes})
  } catch (error) {
    throw describeSsoError(error, target, 'RegisterClient')
  }
}

/** The device authorization grant, start to stored token. */
export async function signIn(target: SsoTarget, deps: SignInDeps): Promise<SignInResult> {
  const api = await deps.sso()
  const client = await registration(target, deps, api)
  let authorization: DeviceAuthorization
  try {
    authorization = await api.startDeviceAuthorization(target.endpoints, {client, startUrl: target.startUrl})
  } catch (error) {
    throw describeSsoError(error, target, 'StartDeviceAuthorization')
  }

  deps.show(authorization)
  let intervalMs = Math.max(1, authorization.intervalSeconds) * 1000
  for (;;) {
    if (deps.clock.now() > authorization.expiresAt) {
      throw new AvError('refused', `the sign-in code ${authorization.userCode} expired before it was approved`, {
        reason: 'sso-login-needed',
        refusal: true,
        suggestion: 'Run `av login` again and approve the code in your browser within its time.',
      })
    }

    let token: SsoToken
    try {
      // eslint-disable-next-line no-await-in-loop -- polling, one request at a time
      token = await api.createToken(target.endpoints, {
        client,
        grant: {deviceCode: authorization.deviceCode, kind: 'device'},
      })
    } catch (error) {
      const {name} = error as {name?: string}
      if (name === 'AuthorizationPendingException' || name === 'SlowDownException') {
        if (name === 'SlowDownException') intervalMs += 5000
        await deps.sleep(intervalMs) // eslint-disable-line no-await-in-loop -- polling interval
        continue
      }

      if (name === 'AccessDeniedException') {
        throw new AvError('refused', 'the sign-in was denied in the browser', {
          reason: 'sso-login-needed',
          refusal: true,
          suggestion: 'Run `av login` again and approve the request.',
        })
      }

      throw describeSsoError(error, target, 'CreateToken')
    }

    // eslint-disable-next-line no-await-in-loop -- the loop ends here, once
    await deps.store.set(
      ssoAccount(target.key),
      encodeSsoItem({client, region: target.endpoints.region, startUrl: target.startUrl, token}),
    )
    return {
      expiresAt: token.expiresAt,
      key: target.key,
      refreshToken: token.refreshToken !== undefined,
      startUrl: target.startUrl,
    }
  }
}
