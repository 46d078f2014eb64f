/**
 * `av migrate`'s plan, pure: from the parsed credentials and config files and what the store holds, which profiles
 * move (and which are skipped, and why), the store items, and the exact bytes both files will have — the config
 * file pointing each moved profile at av's helper, the credentials file without its key lines, no other byte
 * changed. `--dry-run` prints it; applyMigration (migrate.ts) writes it.
 */
import type {IniDocument} from '../aws/ini-document.js'
import type {AwsKeyPair} from '../store/credentials.js'

import {AvError} from '../core/errors.js'
import {profileAccount} from '../store/credentials.js'
import {
  avEntry,
  CREDENTIAL_KEYS,
  decodeStoredProfile,
  helperLine,
  type RemovedLine,
  type RestoreRecord,
  splitKeyLine,
} from './migration-record.js'

export type SkipReason = 'login-session' | 'other-credential-process' | 'role-arn' | 'sso'

export interface SkippedProfile {
  profile: string
  reason: SkipReason
  /** Non-secret explanation naming the file and line. */
  detail: string
}

export interface ProfileMove {
  profile: string
  pair: AwsKeyPair
  record: RestoreRecord
  /** The store item before this run (raw), restored on rollback; null when there was none. */
  previous: null | string
}

export interface MigrationPlan {
  moves: ProfileMove[]
  skipped: SkippedProfile[]
  /** Profiles whose keys are already in the store and referenced from config. */
  already: string[]
  credentials: {after: Buffer; before: Buffer}
  config: {after: Buffer; before: Buffer}
}

export interface MigrationFiles {
  credentials: IniDocument
  config: IniDocument
  /** Whether the config file exists (one av creates is removed again by restore once it is empty). */
  configExists: boolean
}

export interface PlanOptions {
  /** Absolute real path of the av entry point the config will call (`…/bin/run.js`). */
  avPath: string
  /** Only these profiles (default: every profile with keys in the credentials file). */
  profiles?: string[]
  /** Replace a profile's different `credential_process` (restore puts it back). */
  force?: boolean
}

/** Raw store items by profile name (null: not stored), for every profile the plan may look at. */
export type StoreView = Record<string, null | string>

const BLOCKERS: Array<{reason: SkipReason; test: (key: string) => boolean; what: string}> = [
  {reason: 'role-arn', test: (k) => k === 'role_arn', what: 'assumes a role (role_arn)'},
  {reason: 'sso', test: (k) => k.startsWith('sso_'), what: 'signs in through IAM Identity Center (sso_*)'},
  {reason: 'login-session', test: (k) => k === 'login_session', what: 'uses `aws login` (login_session)'},
]

/** Profiles with at least one credential key in the credentials file, in file order. */
export function profilesWithKeys(credentials: IniDocument): string[] {
  return credentials.sections
    .filter((s) => s.profile !== null && CREDENTIAL_KEYS.some((k) => credentials.get(s, k)))
    .map((s) => s.profile!)
}

export function planMigration(files: MigrationFiles, store: StoreView, options: PlanOptions): MigrationPlan {
  const {credentials} = files
  const config = files.config.clone()
  const withKeys = profilesWithKeys(credentials)
  const migrated = config.sections
    .filter((s) => s.profile !== null && !withKeys.includes(s.profile) && avEntry(config, s, s.profile))
    .map((s) => s.profile!)
  const selected = options.profiles ? [...new Set(options.profiles)] : withKeys
  const plan: MigrationPlan = {
    moves: [],
    skipped: [],
    already: [],
    credentials: {before: credentials.serialize(), after: Buffer.alloc(0)},
    config: {before: files.config.serialize(), after: Buffer.alloc(0)},
  }
  const removed: number[] = []

  for (const profile of selected) {
    if (!withKeys.includes(profile)) {
      if (migrated.includes(profile) && store[profile]) {
        plan.already.push(profile)
        continue
      }

      throw new AvError('not-found', `profile ${profile} has no keys in ${credentials.file}`, {
        suggestion: 'Check the name with `av status`; nothing was changed.',
      })
    }

    const section = credentials.section(profile)!
    const entries = CREDENTIAL_KEYS.map((k) => credentials.get(section, k))
    const [id, secret, token] = entries
    for (const [i, key] of (['aws_access_key_id', 'aws_secret_access_key'] as const).entries()) {
      if (!entries[i]) {
        throw new AvError(
          'bad-input',
          `profile ${profile} in ${credentials.file} (line ${section.start + 1}) has no ${key}, so it cannot be moved`,
          {suggestion: `Add the missing ${key} or remove the profile's other key lines; nothing was changed.`},
        )
      }
    }

    for (const entry of entries) {
      if (!entry) continue
      if (entry.inlineComment) {
        throw credentials.lineError(
          entry.line,
          `an inline comment after ${entry.key} (the AWS SDKs cut it off, the AWS CLI keeps it as part of the value)`,
          'Move the comment to a line of its own.',
        )
      }

      if (entry.indented) {
        throw credentials.lineError(
          entry.line,
          `${entry.key} is indented (the AWS CLI reads it as the continuation of the line above)`,
          'Remove the spaces before the key.',
        )
      }

      if (entry.end !== entry.line + 1) {
        throw credentials.lineError(entry.end - 1, `${entry.key} continues on an indented line below it`)
      }
    }

    const configSection = config.section(profile)
    const blocker = blockerOf(config, configSection, profile, options.force === true)
    if (blocker) {
      plan.skipped.push({profile, ...blocker})
      continue
    }

    const lines: RemovedLine[] = []
    for (const [i, entry] of entries.entries()) {
      if (!entry) continue
      const {text} = credentials.lines[entry.line]!
      lines.push({
        offset: entry.line - section.start,
        key: CREDENTIAL_KEYS[i]!,
        ...splitKeyLine(text, entry.value),
        eol: credentials.lines[entry.line]!.eol,
      })
      removed.push(entry.line)
    }

    lines.sort((a, b) => a.offset - b.offset)
    const previous = store[profile] ?? null
    const record: RestoreRecord = {
      v: 1,
      credentials: {lines, remaining: section.end - section.start - lines.length},
      config: editConfig(config, profile, {avPath: options.avPath, configExists: files.configExists, previous}),
    }
    const pair: AwsKeyPair = {accessKeyId: id!.value, secretAccessKey: secret!.value}
    if (token) pair.sessionToken = token.value
    plan.moves.push({profile, pair, record, previous})
  }

  const after = credentials.clone()
  after.removeLines(removed)
  plan.credentials.after = after.serialize()
  plan.config.after = config.serialize()
  if (!options.profiles) plan.already.push(...migrated.filter((p) => store[p]))
  return plan
}

/** Why a profile's config section keeps av from taking it over (null: nothing does). */
export function blockerOf(
  config: IniDocument,
  section: ReturnType<IniDocument['section']>,
  profile: string,
  force: boolean,
): null | Omit<SkippedProfile, 'profile'> {
  if (!section) return null
  for (const entry of section.entries) {
    if (entry.parent !== undefined) continue
    const blocker = BLOCKERS.find((b) => b.test(entry.key))
    if (blocker) {
      return {reason: blocker.reason, detail: `${config.file} line ${entry.line + 1}: the profile ${blocker.what}`}
    }
  }

  const process = config.get(section, 'credential_process')
  if (process && !avEntry(config, section, profile) && !force) {
    return {
      reason: 'other-credential-process',
      detail: `${config.file} line ${process.line + 1}: the profile already has a different credential_process (--force replaces it; restore puts it back)`,
    }
  }

  return null
}

/** Point the profile's config section at av's helper; returns how to undo it. Mutates `config`. */
export function editConfig(
  config: IniDocument,
  profile: string,
  context: {avPath: string; configExists: boolean; previous: null | string},
): RestoreRecord['config'] {
  const {avPath, configExists, previous} = context
  const line = helperLine(avPath, profile)
  const section = config.section(profile)
  const existing = avEntry(config, section, profile)
  if (existing) {
    // An earlier run was interrupted after writing config: its record in the store says how to undo it.
    const earlier = previous === null ? null : decodeStoredProfile(profileAccount(profile), previous).record
    const {text} = config.lines[existing.line]!
    return earlier
      ? {...earlier.config, line: text}
      : {line: text, createdSection: false, addedBlank: false, createdFile: false}
  }

  const other = section && config.get(section, 'credential_process')
  if (section && other) {
    const replaced = config.lines[other.line]!.text
    config.replaceLine(other.line, line)
    return {line, replaced, createdSection: false, addedBlank: false, createdFile: false}
  }

  if (section) {
    const top = section.entries.filter((e) => e.parent === undefined)
    const at = Math.max(section.start + 1, ...section.entries.map((e) => e.end))
    const indent = top.length > 0 ? /^\s*/.exec(config.lines[top[0]!.line]!.text)![0] : ''
    config.insertLines(at, [indent + line])
    return {line: indent + line, createdSection: false, addedBlank: false, createdFile: false}
  }

  const last = config.lines.at(-1)
  const addedBlank = last !== undefined && last.text.trim() !== ''
  config.insertLines(config.lines.length, [...(addedBlank ? [''] : []), config.sectionHeader(profile), line])
  return {line, createdSection: true, addedBlank, createdFile: !configExists}
}
