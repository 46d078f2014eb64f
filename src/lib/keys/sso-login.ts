/**
 * `av login` and `av logout`: IAM Identity Center sign-in whose tokens only av holds.
 *
 * av runs the OIDC device authorization grant itself (sso-tokens.ts signIn) and keeps the client registration,
 * access token and refresh token in its store: in custody mode root does the whole sign-in (`av-custody
 * sso-login`) and only the verification URL and code come back to the user's side; in keychain mode this process
 * does it against the keychain. Nothing is written under `~/.aws/sso/cache`. The helper then releases role
 * credentials for the profile's account and role (resolver.ts), refreshing the access token without a person.
 *
 * `av logout` ends the portal session where the API allows (best effort), drops the tokens and the cached role
 * credentials of the profiles that used them.
 */
import type {AuditSink} from '../audit/audit.js'
import type {SignInPrompt, SsoApi} from '../aws/sso-client.js'
import type {Clock} from '../core/clock.js'
import type {Policy} from '../core/policy.js'
import type {SecretStore} from '../store/secret-store.js'

import {parseAwsConfig} from '../aws/aws-profiles.js'
import {AvError} from '../core/errors.js'
import {isSignInAccount, loginAccount} from '../sessions/login-session.js'
import {roleAccount} from '../sessions/session-cache.js'
import {
  isSsoAccount,
  isSsoProfile,
  ssoAccount,
  ssoEndpointsOf,
  ssoSessionTarget,
  type SsoTarget,
  ssoTargetOf,
} from '../sessions/sso-settings.js'
import {decodeSsoItem, signIn, type SignInResult} from '../sessions/sso-tokens.js'
import {storeLabel} from '../store/secret-store.js'

export interface LoginRequest {
  profile?: string
  session?: string
}

/** What to sign in to, from the config text: the named sso-session, or the profile's (default `default`). */
export function loginTargetOf(configText: string, request: LoginRequest, policy: Policy): SsoTarget {
  const {profiles, ssoSessions} = parseAwsConfig(configText)
  if (request.session !== undefined) return ssoSessionTarget(request.session, ssoSessions, policy)
  const profile = request.profile ?? 'default'
  const target = ssoTargetOf(profile, profiles, ssoSessions, policy)
  if (!target) {
    throw new AvError('bad-input', `profile ${profile} does not sign in through IAM Identity Center`, {
      suggestion: `Give [profile ${profile}] in ~/.aws/config sso_session (with an [sso-session] section), sso_account_id and sso_role_name (\`aws configure sso\` writes them), or name another profile.`,
    })
  }

  return target
}

/** The profiles whose role credentials come from sign-in `key` (their cached role credentials go with it). */
export function profilesOfSignIn(configText: string, key: string, policy: Policy): string[] {
  const {profiles, ssoSessions} = parseAwsConfig(configText)
  return Object.keys(profiles).filter((name) => {
    if (!isSsoProfile(profiles[name])) return false
    try {
      return ssoTargetOf(name, profiles, ssoSessions, policy)?.key === key
    } catch {
      return false
    }
  })
}

/** The lines that show a person where to approve a sign-in (never a token: the user code is meant to be typed). */
export function approvalLines(authorization: SignInPrompt): string[] {
  return [
    `av: approve this sign-in in your browser: ${authorization.verificationUriComplete}`,
    `av: (or open ${authorization.verificationUri} and enter the code ${authorization.userCode})`,
    'av: waiting for the approval…',
  ]
}

export interface LoginDeps {
  audit: AuditSink
  clock: Clock
  policy: Policy
  /** The user's AWS config text (null: no file). */
  configText: () => null | string
  /** The keychain (keychain mode). */
  store: SecretStore
  sso: () => Promise<SsoApi>
  sleep: (ms: number) => Promise<void>
  /** Shows a line to the person (stderr). */
  say: (line: string) => void
  /** Opens a URL in the person's browser when there is a display (best effort); null: never. */
  openBrowser: ((url: string) => void) | null
  /** Custody mode: root signs in (`av-custody sso-login`); null in keychain mode. */
  custody: null | {
    login(request: LoginRequest, configFile: string, show: (a: SignInPrompt) => void): Promise<SignInResult>
    /** Removes the named sign-ins (`sso:<key>`, `login:<session>`, or `*`); answers the accounts removed. */
    logout(accounts: string[]): Promise<string[]>
    dropSessions(accounts: string[]): Promise<string[]>
  }
  configFile: string
}

export interface LoginResult extends SignInResult {
  store: string
  summary: string
}

function configOf(deps: Pick<LoginDeps, 'configText'>): string {
  const text = deps.configText()
  if (text === null) {
    throw new AvError('not-found', 'there is no ~/.aws/config to sign in from', {
      suggestion: 'Run `aws configure sso` (it writes the profile and its sso-session), then `av login`.',
    })
  }

  return text
}

function expiresIn(ms: number): string {
  const minutes = Math.max(0, Math.round(ms / 60_000))
  return minutes >= 120 ? `${Math.round(minutes / 60)} h` : `${minutes} min`
}

export async function login(deps: LoginDeps, request: LoginRequest): Promise<LoginResult> {
  const text = configOf(deps)
  const target = loginTargetOf(text, request, deps.policy)
  const show = (authorization: SignInPrompt) => {
    for (const line of approvalLines(authorization)) deps.say(line)
    deps.openBrowser?.(authorization.verificationUriComplete)
  }

  let result: SignInResult
  let where: string
  if (deps.custody) {
    result = await deps.custody.login(request, deps.configFile, show)
    where = 'root custody'
  } else {
    result = await signIn(target, {clock: deps.clock, show, sleep: deps.sleep, sso: deps.sso, store: deps.store})
    where = storeLabel(deps.store)
    await deps.audit.record({
      event: 'sso-login',
      refreshable: result.refreshToken,
      session: target.session,
      startUrl: target.startUrl,
    })
  }

  // Role credentials cached from an earlier sign-in may belong to another user of the portal: fetch them anew.
  await dropRoleCredentials(deps, profilesOfSignIn(text, target.key, deps.policy))

  const summary =
    `Signed in to ${target.startUrl}: av holds the tokens in ${where} (access token for ${expiresIn(result.expiresAt - deps.clock.now())}, ` +
    (result.refreshToken
      ? 'renewed without you until the sign-in ends).'
      : 'no refresh token: sign in again when it ends).')
  return {...result, store: where, summary}
}

export interface LogoutRequest extends LoginRequest {
  all?: boolean
}

export interface LogoutResult {
  removed: string[]
  cleared: string[]
  summary: string
}

/** The store accounts a logout names: the profile's (or session's) sign-in, `sso:<key>` or `login:<session>`. */
function logoutAccounts(text: string, request: LogoutRequest, policy: Policy): string[] {
  if (request.session === undefined) {
    const profile = request.profile ?? 'default'
    const settings = parseAwsConfig(text).profiles[profile]
    const session = settings?.login_session?.trim()
    if (session && !isSsoProfile(settings)) return [loginAccount(session)]
  }

  return [ssoAccount(loginTargetOf(text, request, policy).key)]
}

export async function logout(deps: LoginDeps, request: LogoutRequest): Promise<LogoutResult> {
  const text = deps.configText() ?? ''
  let accounts: string[]
  if (request.all) accounts = deps.custody ? ['*'] : (await deps.store.list()).filter((a) => isSignInAccount(a))
  else accounts = logoutAccounts(configOf(deps), request, deps.policy)

  let removedAccounts: string[]
  if (deps.custody) {
    removedAccounts = await deps.custody.logout(accounts)
  } else {
    removedAccounts = await removeSignIns(deps, deps.store, accounts)
    await deps.audit.record({event: 'sso-logout', removed: removedAccounts.length})
  }

  const removed = removedAccounts.map((a) => a.replace(/^(?:sso|login):/, ''))
  const profiles = removedAccounts
    .filter((a) => isSsoAccount(a))
    .flatMap((a) => profilesOfSignIn(text, a.slice('sso:'.length), deps.policy))
  const cleared = await dropRoleCredentials(deps, profiles)
  const summary =
    removed.length === 0
      ? 'av held no IAM Identity Center or console sign-in to remove.'
      : `Signed out: removed ${removed.length} sign-in(s) (${removed.join(', ')}) and ${cleared.length} cached role credential(s).`
  return {cleared, removed, summary}
}

/** Drops the cached role credentials of `profiles` (root's, through drop-sessions, in custody mode). */
async function dropRoleCredentials(deps: LoginDeps, profiles: string[]): Promise<string[]> {
  const accounts = [...new Set(profiles)].map((p) => roleAccount(p))
  if (deps.custody) return deps.custody.dropSessions(accounts)
  const cleared: string[] = []
  for (const account of accounts) if (await deps.store.delete(account)) cleared.push(account) // eslint-disable-line no-await-in-loop -- few
  return cleared
}

/**
 * Deletes sign-in items (`sso:<key>`, `login:<session>`) from `store`, ending each IAM Identity Center portal
 * session first (best effort); answers the accounts removed. `av logout` in keychain mode, root's `sso-logout`.
 */
export async function removeSignIns(
  deps: Pick<LoginDeps, 'policy' | 'sso'>,
  store: SecretStore,
  accounts: string[],
): Promise<string[]> {
  const removed: string[] = []
  for (const account of accounts) {
    const item = isSsoAccount(account) ? decodeSsoItem(await store.get(account)) : null // eslint-disable-line no-await-in-loop -- few
    if (item) await endPortalSession(deps, item.region, item.token.accessToken) // eslint-disable-line no-await-in-loop
    if (await store.delete(account)) removed.push(account) // eslint-disable-line no-await-in-loop
  }

  return removed
}

/** Ends the portal session of an access token (best effort: av drops the token either way). */
export async function endPortalSession(
  deps: Pick<LoginDeps, 'policy' | 'sso'>,
  region: string,
  accessToken: string,
): Promise<void> {
  try {
    const api = await deps.sso()
    await api.logout(ssoEndpointsOf(region, deps.policy), {accessToken})
  } catch {
    // The token is removed anyway; an expired token or no network only leaves a session that ends by itself.
  }
}
