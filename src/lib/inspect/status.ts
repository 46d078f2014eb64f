/**
 * `av status`: which mode av runs in (durable keys in the user's OS keychain, or in root custody), for each AWS
 * profile where its credentials live and whether config runs av for it, plus the settings that would leak through
 * the AWS CLI (`[plugins]`, `cli_history = enabled`). In custody mode it also lists (names only, never values) the
 * user's own keychain for durable keys left there. Read-only.
 */
import type {AwsFileSystem} from '../aws/aws-files.js'
import type {IniDocument, IniSection} from '../aws/ini-document.js'
import type {SessionMode} from '../sessions/session-settings.js'
import type {SecretStore} from '../store/secret-store.js'

import {documentOf} from '../aws/aws-files.js'
import {parseAwsProfiles} from '../aws/aws-profiles.js'
import {readSsoTokenCache, ssoCacheFile, type SsoProfile, ssoProfileOf, type SsoTokenCache} from '../aws/sso-cache.js'
import {AvError} from '../core/errors.js'
import {DEFAULT_POLICY, type Policy} from '../core/policy.js'
import {ageInDays, describeAge, dueForRotation, type KeyAge, keyAges, ROTATE_AFTER_DAYS} from '../keys/key-age.js'
import {avEntry, CREDENTIAL_KEYS} from '../keys/migration-record.js'
import {sessionModeOf} from '../sessions/session-settings.js'
import {isSsoAccount} from '../sessions/sso-settings.js'
import {decodeSsoItem} from '../sessions/sso-tokens.js'
import {profileOfAccount} from '../store/credentials.js'
import {storeLabel} from '../store/secret-store.js'

export type CredentialSource = 'none' | 'other' | 'plaintext' | 'store'

/** Where av keeps durable keys: the user's OS keychain, or root custody (`sudo av install`). */
export type KeyMode = 'custody' | 'keychain'

export interface ProfileStatus {
  profile: string
  /** Where the profile's credentials come from as the AWS CLI would use them. */
  source: CredentialSource
  /** For `other`: role, sso, login or credential_process. */
  detail?: string
  /** The config file runs av's helper for this profile. */
  referencesAv: boolean
  /**
   * The mode's durable store (the OS keychain, or root custody in custody mode) holds av's item for this profile
   * (null: it could not be asked).
   */
  stored: boolean | null
  /** Custody mode only: the user's own OS keychain still holds this profile's durable key (null: not asked). */
  inKeychain?: boolean | null
  /** Where this profile's durable key was found (custody first); absent when nowhere, or the store was not asked. */
  keyIn?: KeyMode
  /** For profiles av serves: what the helper hands the AWS CLI (STS session, role, or the durable key). */
  releases?: SessionMode
  /** IAM Identity Center profiles: the session, account and role, and the AWS CLI's token cache for it. */
  /**
   * IAM Identity Center: the settings, the AWS CLI's plaintext token cache (`token`), and whether av holds a
   * sign-in for it (`signedIn`: in which store, and the access token's end where the store shows it).
   */
  sso?: SsoProfile & {signedIn: null | {expiresAt: null | string; store: string}; token: null | SsoTokenCache}
  /** The stored key's age, from its item (`av doctor` asks IAM as well). */
  keyAge?: {days: null | number; since: null | string; source: KeyAge['source']; text: string}
  warnings: string[]
}

export interface StatusReport {
  /** `custody` when the root-owned policy names a custody entry point, else `keychain`. */
  mode: KeyMode
  /** Custody mode: the root-owned entry point av calls through `sudo -n`. */
  custodyEntry?: string
  files: {config: string; credentials: string}
  profiles: ProfileStatus[]
  /** File-wide warnings: plugins, history, a key store that could not be asked. */
  warnings: string[]
}

function otherSource(config: IniDocument, section: IniSection | undefined, profile: string): null | string {
  if (!section) return null
  const keys = section.entries.filter((e) => e.parent === undefined).map((e) => e.key)
  if (keys.includes('role_arn')) return 'role (role_arn)'
  if (keys.some((k) => k.startsWith('sso_'))) return 'IAM Identity Center (sso_*)'
  if (keys.includes('login_session')) return 'aws login (login_session)'
  if (keys.includes('credential_process') && !avEntry(config, section, profile)) return 'another credential_process'
  return null
}

export interface StatusDeps {
  fs: AwsFileSystem
  paths: {config: string; credentials: string}
  /** The root-owned policy (session caps, opt-out); the built-in defaults when absent. */
  policy?: Policy
  /** Where durable keys live in this mode: the OS keychain, or root custody (migration-deps.ts `durableStore`). */
  store: SecretStore
  /** Custody mode: the entry point, and the user's own OS keychain, listed (never read) for keys left behind. */
  custody?: {entry: string; keychain: SecretStore}
  /** Now, in milliseconds since the epoch: each stored key's age is told from it. */
  now: number
  /** The AWS CLI's SSO token cache (`~/.aws/sso/cache`) and how to read a file there (null: not there). */
  ssoCache?: {dir: string; read(file: string): null | string}
}

/** Profiles with a durable item (`aws:<profile>`) in `store`, by name only; null (and a warning) when it cannot be asked. */
async function durableProfiles(
  store: SecretStore,
  warnings: string[],
  rotating?: Set<string>,
): Promise<null | Set<string>> {
  try {
    const accounts = await store.list()
    // A rotation journal (`rotate:<profile>`, rotate.ts) left by an interrupted `av rotate`.
    for (const a of accounts) if (a.startsWith('rotate:')) rotating?.add(a.slice('rotate:'.length))
    return new Set(accounts.map((a) => profileOfAccount(a)).filter((p) => p !== null))
  } catch (error) {
    if (!(error instanceof AvError)) throw error
    warnings.push(`${storeLabel(store)} could not be asked: ${error.message}`)
    return null
  }
}

/** Each stored IAM user key's age from its item (a custody item comes sealed: its dates are still there). */
async function storedAges(store: SecretStore, stored: null | Set<string>, warnings: string[]) {
  const ages = new Map<string, KeyAge>()
  if (stored === null || stored.size === 0) return ages
  try {
    for (const age of await keyAges(store)) ages.set(age.profile, age)
  } catch (error) {
    if (!(error instanceof AvError)) throw error
    warnings.push(`the keys' ages could not be read from ${storeLabel(store)}: ${error.message}`)
  }

  return ages
}

export async function readStatus(deps: StatusDeps): Promise<StatusReport> {
  const credentials = documentOf(await deps.fs.read(deps.paths.credentials, 'credentials'))
  const configFile = await deps.fs.read(deps.paths.config, 'config')
  const config = documentOf(configFile)
  const warnings: string[] = []
  const mode: KeyMode = deps.custody ? 'custody' : 'keychain'
  const rotating = new Set<string>()
  const stored = await durableProfiles(deps.store, warnings, rotating)
  const leftOver = deps.custody ? await durableProfiles(deps.custody.keychain, warnings) : null

  const configText = configFile.bytes?.toString('utf8') ?? ''
  const settings = parseAwsProfiles(configText)
  const names: string[] = []
  for (const section of [...credentials.sections, ...config.sections]) {
    if (section.profile !== null && !names.includes(section.profile)) names.push(section.profile)
  }

  for (const name of [...(stored ?? []), ...(leftOver ?? [])]) if (!names.includes(name)) names.push(name)
  const ages = await storedAges(deps.store, stored, warnings)
  const signIns = await ssoSignIns(deps.store)
  const profiles = names.map((profile): ProfileStatus => {
    const configSection = config.section(profile)
    const plaintext = plaintextFiles([credentials, config], profile)
    const referencesAv = avEntry(config, configSection, profile) !== undefined
    const isStored = stored === null ? null : stored.has(profile)
    const other = otherSource(config, configSection, profile)
    const status: ProfileStatus = {profile, source: 'none', referencesAv, stored: isStored, warnings: []}
    if (deps.custody) status.inKeychain = leftOver === null ? null : leftOver.has(profile)
    if (isStored) status.keyIn = mode
    else if (status.inKeychain) status.keyIn = 'keychain'
    if (plaintext.length > 0) {
      status.source = 'plaintext'
      status.warnings.push(
        `plaintext keys left in ${plaintext.join(' and ')} (run \`av migrate --profile ${profile}\`)`,
      )
    } else if (other) {
      status.source = 'other'
      status.detail = other
    } else if (referencesAv) {
      status.source = 'store'
    }

    if (referencesAv || (servedWithoutConfig(other) && status.source !== 'plaintext')) {
      status.releases = sessionModeOf(profile, settings, deps.policy ?? DEFAULT_POLICY)
    }

    if (referencesAv && isStored === false) {
      status.warnings.push(
        `${deps.paths.config} runs av for ${profile} but ${storeLabel(deps.store)} holds no keys for it`,
      )
    }

    const age = ages.get(profile)
    if (age) addKeyAge(status, age, deps.now)
    addSso(status, ssoProfileOf(settings[profile], configText), deps.ssoCache, signIns)

    if (rotating.has(profile)) {
      status.warnings.push(
        `a rotation of ${profile}'s key was interrupted (av holds its journal): run \`av rotate --profile ${profile}\` to finish it`,
      )
    }

    if (status.inKeychain) {
      status.warnings.push(
        `the durable key of ${profile} is still in your OS keychain, which every program you run can read; \`av migrate\` moves it into root custody`,
      )
    }

    return status
  })

  if (config.sections.some((s) => s.header === 'plugins')) {
    warnings.push(
      `${deps.paths.config} has a [plugins] section: the AWS CLI may load code from it into the process that holds your keys`,
    )
  }

  for (const section of config.sections) {
    const history = config.get(section, 'cli_history')
    if (history?.value === 'enabled') {
      warnings.push(
        `${config.file} line ${history.line + 1}: cli_history = enabled stores request and response bodies in ~/.aws/cli/history`,
      )
    }
  }

  const report: StatusReport = {mode, files: deps.paths, profiles, warnings}
  if (deps.custody) report.custodyEntry = deps.custody.entry
  return report
}

/** The profile's key age, and a warning once it is due for rotation. */
function addKeyAge(status: ProfileStatus, age: KeyAge, now: number): void {
  status.keyAge = {
    days: ageInDays(age, now),
    since: age.since === null ? null : new Date(age.since).toISOString(),
    source: age.source,
    text: describeAge(age, now),
  }
  if (dueForRotation(age, now)) {
    status.warnings.push(
      `its key is ${status.keyAge.days} days old (over ${ROTATE_AFTER_DAYS}): run \`av rotate --profile ${status.profile}\``,
    )
  }
}

/** Role, IAM Identity Center and console sign-in profiles are served by av's launcher without a credential_process of av's. */
function servedWithoutConfig(other: null | string | undefined): boolean {
  return ['role', 'IAM Identity Center', 'aws login'].some((label) => other?.startsWith(label) === true)
}

type SignIns = Map<string, {expiresAt: null | string; store: string}>

/** The IAM Identity Center sign-ins av holds, by key: when the access token ends (keychain; custody shows none). */
async function ssoSignIns(store: SecretStore): Promise<SignIns> {
  const found: SignIns = new Map()
  let accounts: string[]
  try {
    accounts = (await store.list()).filter((a) => isSsoAccount(a))
  } catch {
    return found
  }

  for (const account of accounts) {
    // eslint-disable-next-line no-await-in-loop -- a few items; custody answers null (it never hands a token out)
    const item = decodeSsoItem(await store.get(account).catch(() => null))
    found.set(account.slice('sso:'.length), {
      expiresAt: item ? new Date(item.token.expiresAt).toISOString() : null,
      store: storeLabel(store),
    })
  }

  return found
}

/** The profile's SSO settings and token cache; a warning when the cache holds tokens any program can read. */
function addSso(status: ProfileStatus, sso: null | SsoProfile, cache: StatusDeps['ssoCache'], signIns: SignIns): void {
  if (!sso || !cache) return
  const file = ssoCacheFile(cache.dir, sso)
  const token = file === null ? null : readSsoTokenCache(file, (f) => cache.read(f))
  const key = sso.session ?? sso.startUrl
  status.sso = {...sso, signedIn: (key === undefined ? undefined : signIns.get(key)) ?? null, token}
  if (token) {
    status.warnings.push(
      `its IAM Identity Center tokens are in plaintext in ${token.file}${token.refreshToken ? ', with a refresh token' : ''}: ` +
        'any program you run can read them and get role credentials for every account and role you can reach ' +
        '(`av migrate` moves them into av, or `aws sso logout` removes them)',
    )
  }

  if (status.sso.signedIn === null) {
    status.warnings.push(`av holds no IAM Identity Center sign-in for it: run \`av login --profile ${status.profile}\``)
  }
}

/** The files among `docs` whose section for `profile` holds a key or secret in plaintext. */
function plaintextFiles(docs: IniDocument[], profile: string): string[] {
  return docs
    .filter((doc) => {
      const section = doc.section(profile)
      return section !== undefined && CREDENTIAL_KEYS.some((k) => doc.get(section, k))
    })
    .map((doc) => doc.file)
}
