/**
 * Console sign-in profiles (`aws login`, AWS CLI 2.32+): the profile names `login_session = arn:…`, and the AWS CLI
 * keeps 15-minute credentials, a refresh token good for 12 hours and the DPoP private key that binds it in
 * plaintext in `~/.aws/login/cache/<sha256 of the session>.json`. av keeps that document instead, as the store item
 * `login:<session>` (root custody, or the keychain), after `av migrate` moved it there and deleted the file.
 *
 * The helper (root, in custody mode) releases the document's credentials while they have 5 minutes left; below
 * that it refreshes them through the SDK's own provider (`@aws-sdk/credential-provider-login`, login-refresh.ts),
 * which signs the request with the DPoP key, and stores the renewed document before using it. When there is no
 * item or the refresh is refused, the run is refused with "sign in again".
 */
import type {Clock} from '../core/clock.js'
import type {SecretStore} from '../store/secret-store.js'
import type {ReleasedCredentials} from './session-types.js'

import {AvError} from '../core/errors.js'

/** The SDK's provider refreshes below this (LoginCredentialsFetcher.REFRESH_THRESHOLD). */
export const LOGIN_REFRESH_MS = 5 * 60 * 1000
const LOGIN_ITEM_SCHEMA = 1

/** What the provider needs to renew a document: returns the renewed document, or throws the SDK's error. */
export type LoginRefresh = (input: {document: string; region: string; session: string}) => Promise<string>

export function loginAccount(session: string): string {
  return `login:${session}`
}

export function isLoginAccount(account: string): boolean {
  return account.startsWith('login:')
}

/** A sign-in av holds: IAM Identity Center (`sso:<key>`) or console (`login:<session>`). */
export function isSignInAccount(account: string): boolean {
  return account.startsWith('sso:') || isLoginAccount(account)
}

interface LoginCredentials {
  accessKeyId: string
  secretAccessKey: string
  sessionToken: string
  expiration: number
}

/** The AWS CLI's login cache document's credentials, or null when it is not one the provider could use. */
export function loginDocumentCredentials(text: string): LoginCredentials | null {
  try {
    const doc = JSON.parse(text) as Record<string, unknown>
    const token = doc.accessToken as Record<string, unknown> | undefined
    const fields = ['accessKeyId', 'secretAccessKey', 'sessionToken', 'accountId', 'expiresAt'] as const
    if (typeof token !== 'object' || token === null || fields.some((f) => typeof token[f] !== 'string')) return null
    if (typeof doc.clientId !== 'string' || typeof doc.refreshToken !== 'string' || typeof doc.dpopKey !== 'string') {
      return null
    }

    const expiration = Date.parse(token.expiresAt as string)
    if (Number.isNaN(expiration)) return null
    return {
      accessKeyId: token.accessKeyId as string,
      expiration,
      secretAccessKey: token.secretAccessKey as string,
      sessionToken: token.sessionToken as string,
    }
  } catch {
    return null
  }
}

export function encodeLoginItem(session: string, document: string): string {
  return JSON.stringify({v: LOGIN_ITEM_SCHEMA, kind: 'login', session, document})
}

export function decodeLoginItem(raw: null | string): null | {document: string; session: string} {
  if (raw === null) return null
  try {
    const doc = JSON.parse(raw) as Record<string, unknown>
    if (doc.v !== LOGIN_ITEM_SCHEMA || doc.kind !== 'login') return null
    if (typeof doc.session !== 'string' || typeof doc.document !== 'string') return null
    return loginDocumentCredentials(doc.document) ? {document: doc.document, session: doc.session} : null
  } catch {
    return null
  }
}

function signInAgain(profile: string, session: string, why: string): AvError {
  return new AvError('refused', `the console sign-in of profile ${profile} (${session}) is needed: ${why}`, {
    reason: 'sso-login-needed',
    refusal: true,
    suggestion: `Run \`aws login --profile ${profile}\` yourself, then \`av migrate --profile ${profile}\` to move its tokens into av.`,
  })
}

export interface LoginDeps {
  clock: Clock
  store: SecretStore
  refresh?: LoginRefresh
}

/** The credentials of a `login_session` profile: from av's item, renewed through the SDK's provider when due. */
export async function loginCredentials(
  profile: string,
  session: string,
  region: string | undefined,
  deps: LoginDeps,
): Promise<ReleasedCredentials> {
  const account = loginAccount(session)
  const item = decodeLoginItem(await deps.store.get(account))
  if (!item) throw signInAgain(profile, session, 'av holds no sign-in for it')
  let credentials = loginDocumentCredentials(item.document)!
  if (credentials.expiration - deps.clock.now() > LOGIN_REFRESH_MS) return {...credentials, cached: true, kind: 'login'}
  if (!deps.refresh) throw new AvError('internal', 'this av process cannot renew console sign-ins')
  let renewed: string
  try {
    renewed = await deps.refresh({document: item.document, region: region ?? 'us-east-1', session})
  } catch (error) {
    const name = (error as {name?: string}).name ?? 'Error'
    throw signInAgain(profile, session, `renewing it was refused (${name})`)
  }

  const fresh = loginDocumentCredentials(renewed)
  if (!fresh || fresh.expiration <= deps.clock.now()) {
    throw signInAgain(profile, session, 'the renewed sign-in holds no usable credentials')
  }

  await deps.store.set(account, encodeLoginItem(session, renewed))
  credentials = fresh
  return {...credentials, cached: false, kind: 'login'}
}
