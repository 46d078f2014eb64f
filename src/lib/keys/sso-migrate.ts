/**
 * `av migrate` for IAM Identity Center and console sign-in. IAM Identity Center: the AWS CLI keeps each sign-in's access token, refresh token and client
 * secret in plaintext in `~/.aws/sso/cache/<sha1 of the session name or start URL>.json`, where every process of
 * the user can read them. migrate moves each such token that a profile of ~/.aws/config uses into av's store
 * (root custody through `av-custody sso-import`, else the keychain), reads it back, and only then deletes the file.
 *
 * The config is not edited: the profile keeps its sso_* settings, which is what av reads, and inside av runs the
 * AWS CLI sees only av's credential_process. A credential_process line in the user's config would never be read
 * while sso_* settings are there (the CLI tries SSO first), so `av restore` has nothing to put back in the config;
 * the tokens are not written back either (restore prints "run `aws sso login`" for the CLI outside av).
 *
 * Console sign-in (`aws login`): a `login_session` profile's document in `~/.aws/login/cache/<sha256 of the
 * session>.json` (credentials, refresh token, DPoP key) moves the same way, into the item `login:<session>`.
 */
import type {ProfileSettings} from '../aws/aws-profiles.js'
import type {Clock} from '../core/clock.js'
import type {Policy} from '../core/policy.js'
import type {SecretStore} from '../store/secret-store.js'

import {parseAwsConfig} from '../aws/aws-profiles.js'
import {loginCacheFileOf, ssoCacheFileOf} from '../aws/sso-cache.js'
import {AvError} from '../core/errors.js'
import {decodeLoginItem, encodeLoginItem, loginAccount, loginDocumentCredentials} from '../sessions/login-session.js'
import {isSsoProfile, ssoAccount, ssoTargetOf} from '../sessions/sso-settings.js'
import {decodeSsoItem, encodeSsoItem, fromCliCache} from '../sessions/sso-tokens.js'

export interface SsoCacheMove {
  /** IAM Identity Center (`aws sso login`) or console sign-in (`aws login`). */
  kind: 'login' | 'sso'
  /** The sign-in: sso-session name, a legacy profile's start URL, or the login_session ARN. */
  key: string
  /** The AWS CLI's cache file. */
  file: string
  /** The profiles that use it. */
  profiles: string[]
  /** The file's text (tokens: held in memory only until stored). */
  text: string
}

export interface SsoMigrateDeps {
  cacheDir: string
  /** The AWS CLI's console sign-in cache (`~/.aws/login/cache`, or AWS_LOGIN_CACHE_DIRECTORY). */
  loginCacheDir: string
  /** The user's AWS config text (null: no file). */
  configText: () => null | string
  policy: Policy
  readFile: (file: string) => null | string
  removeFile: (file: string) => Promise<void>
  /** Stores the cache document as av's sign-in for `key`, read back; throws when it cannot. */
  importCache: (move: Pick<SsoCacheMove, 'key' | 'kind' | 'text'>) => Promise<void>
}

/** A console sign-in profile: its cache (once per session) joins `logins`. False when it is not one. */
function addLogin(
  deps: SsoMigrateDeps,
  {logins, profile, settings}: {logins: SsoCacheMove[]; profile: string; settings: ProfileSettings},
): boolean {
  const session = settings.login_session?.trim()
  if (!session || isSsoProfile(settings)) return false
  const known = logins.find((m) => m.key === session)
  if (known) {
    known.profiles.push(profile)
    return true
  }

  const file = loginCacheFileOf(deps.loginCacheDir, session)
  const cache = deps.readFile(file)
  if (cache !== null && loginDocumentCredentials(cache)) {
    logins.push({file, key: session, kind: 'login', profiles: [profile], text: cache})
  }

  return true
}

/**
 * The plaintext caches of the sign-ins the config's profiles use (of `profiles` only, when given), and every
 * IAM Identity Center profile looked at (those have no keys for the rest of migrate to move).
 */
export function planSsoMoves(deps: SsoMigrateDeps, profiles?: string[]): {moves: SsoCacheMove[]; profiles: string[]} {
  const text = deps.configText()
  if (text === null) return {moves: [], profiles: []}
  const {profiles: all, ssoSessions: sessions} = parseAwsConfig(text)
  const byKey = new Map<string, {profiles: string[]; startUrl: string}>()
  const looked: string[] = []
  const logins: SsoCacheMove[] = []
  for (const profile of Object.keys(all)) {
    if (all[profile]!.role_arn || (profiles && !profiles.includes(profile))) continue
    if (addLogin(deps, {logins, profile, settings: all[profile]!})) {
      looked.push(profile)
      continue
    }

    if (!isSsoProfile(all[profile])) continue
    looked.push(profile)
    let target
    try {
      target = ssoTargetOf(profile, all, sessions, deps.policy)
    } catch {
      continue // a profile av cannot use: `av status` names its problem
    }

    if (!target) continue
    const entry = byKey.get(target.key) ?? {profiles: [], startUrl: target.startUrl}
    entry.profiles.push(profile)
    byKey.set(target.key, entry)
  }

  const moves: SsoCacheMove[] = []
  for (const [key, {profiles: users, startUrl}] of byKey) {
    const file = ssoCacheFileOf(deps.cacheDir, key)
    const cache = deps.readFile(file)
    const item = cache === null ? null : fromCliCache(cache)
    // Only a token for the very start URL the config names: anything else is not this sign-in's.
    if (cache !== null && item !== null && item.startUrl === startUrl) {
      moves.push({file, key, kind: 'sso', profiles: users, text: cache})
    }
  }

  return {moves: [...moves, ...logins], profiles: looked}
}

/** Each move: into av's store (read back), then the plaintext file deleted. */
export async function applySsoMoves(moves: SsoCacheMove[], deps: SsoMigrateDeps): Promise<void> {
  for (const move of moves) {
    await deps.importCache(move) // eslint-disable-line no-await-in-loop -- one sign-in at a time
    await deps.removeFile(move.file) // eslint-disable-line no-await-in-loop
  }
}

interface ImportPlan {
  account: string
  value: string
  /** Whether a held item is a live sign-in other than the imported one (it stays; the import is refused). */
  liveOther: (held: null | string, now: number) => boolean
  conflict: string
}

/** What importing a cache document means for each kind of sign-in; throws when it holds no usable token. */
function importPlan({key, kind, text}: Pick<SsoCacheMove, 'key' | 'kind' | 'text'>): ImportPlan {
  if (kind === 'sso') {
    const item = fromCliCache(text)
    if (!item) throw new AvError('bad-input', `the AWS CLI's cache for ${key} holds no usable token`)
    return {
      account: ssoAccount(key),
      conflict: '`aws sso logout` removes the cache file, or `av logout` then `av migrate` takes the cache instead.',
      liveOther(raw, now) {
        const held = decodeSsoItem(raw)
        return held !== null && held.token.expiresAt > now && held.token.accessToken !== item.token.accessToken
      },
      value: encodeSsoItem(item),
    }
  }

  if (!loginDocumentCredentials(text)) {
    throw new AvError('bad-input', `the AWS CLI's console sign-in cache for ${key} holds no usable credentials`)
  }

  return {
    account: loginAccount(key),
    conflict: '`aws logout` removes the cache file, or `av logout` then `av migrate` takes the cache instead.',
    liveOther(raw, now) {
      const held = decodeLoginItem(raw)
      const credentials = held === null ? null : loginDocumentCredentials(held.document)
      return credentials !== null && credentials.expiration > now && held!.document !== text
    },
    value: encodeLoginItem(key, text),
  }
}

/**
 * A sign-in the AWS CLI left in plaintext, as av's item in `store` (the keychain, or root's custody store through
 * the `sso-import` and `login-import` verbs), read back. A live sign-in of av's own with another token stays: the
 * import is refused, and migrate leaves the file for the person to decide.
 */
export async function importMove(
  store: SecretStore,
  clock: Clock,
  move: Pick<SsoCacheMove, 'key' | 'kind' | 'text'>,
): Promise<void> {
  const plan = importPlan(move)
  if (plan.liveOther(await store.get(plan.account), clock.now())) {
    throw new AvError(
      'conflict',
      `av already holds a live sign-in for ${move.key}; the AWS CLI's cache was left as it is`,
      {
        suggestion: plan.conflict,
      },
    )
  }

  await store.set(plan.account, plan.value)
  if ((await store.get(plan.account)) !== plan.value) {
    throw new AvError('store-unavailable', `the store did not keep ${move.key}`)
  }
}
