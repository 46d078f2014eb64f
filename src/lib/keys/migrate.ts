/**
 * `av migrate`: move static AWS keys from the credentials file into the secret store and point the config file
 * at av's helper, losing no other byte of either file.
 *
 * Plan, then apply. `planMigration` is pure: from the parsed files and what the store holds it computes the
 * store items and the exact bytes both files will have. `applyMigration` then writes in an order that is safe
 * to interrupt anywhere: (1) every pair into the store, each read back and compared; (2) the config file gets
 * av's `credential_process` line; (3) the key lines leave the credentials file. Until (3) the keys are still in
 * the credentials file; after it they are in the store and config references them. A failure rolls back what
 * was done; a SIGKILL leaves a state the next run resumes (it finds av's line and its record in the store).
 */
/* eslint-disable no-await-in-loop -- every step waits for the one before it: the order is the safety argument */
import {isDeepStrictEqual} from 'node:util'

import type {AuditSink} from '../audit/audit.js'
import type {IniDocument} from '../aws/ini-document.js'
import type {StepReporter} from '../core/progress.js'
import type {AwsKeyPair} from '../store/credentials.js'
import type {SecretStore} from '../store/secret-store.js'

import {
  acquireLock,
  type AwsFileSnapshot,
  type AwsFileSystem,
  documentOf,
  removeOrphanedTemps,
} from '../aws/aws-files.js'
import {AvError} from '../core/errors.js'
import {silentReporter} from '../core/progress.js'
import {profileAccount, profileOfAccount} from '../store/credentials.js'
import {storeLabel} from '../store/secret-store.js'
import {
  avEntry,
  CREDENTIAL_KEYS,
  decodeStoredProfile,
  encodeStoredProfile,
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

function blockerOf(
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
function editConfig(
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

export interface ApplyDeps {
  store: SecretStore
  fs: AwsFileSystem
  report?: StepReporter
}

export interface Snapshots {
  credentials: AwsFileSnapshot
  config: AwsFileSnapshot
}

/** Write one file with the checks both migrate and restore need: unchanged since read, then verified. */
export async function writeVerified(fs: AwsFileSystem, snapshot: AwsFileSnapshot, bytes: Buffer): Promise<void> {
  const now = await fs.read(snapshot.path, snapshot.kind)
  if (!sameBytes(now.bytes, snapshot.bytes)) {
    throw new AvError('conflict', `${snapshot.path} changed while av was working on it`, {
      suggestion: 'Run the command again once nothing else is editing the file.',
    })
  }

  await fs.write(snapshot.path, bytes, snapshot)
  const back = await fs.read(snapshot.path, snapshot.kind)
  if (!sameBytes(back.bytes, bytes)) {
    throw new AvError('internal', `${snapshot.path} does not hold what av wrote (verified after writing)`)
  }
}

export function sameBytes(a: Buffer | null, b: Buffer | null): boolean {
  return a === null || b === null ? a === b : a.equals(b)
}

/**
 * Whether the store gives back the item just written. Root custody shows its own read-back sealed: the record must
 * match, and root compared the key itself.
 */
async function readsBack(store: SecretStore, account: string, value: string): Promise<boolean> {
  const back = await store.get(account)
  const expected = decodeStoredProfile(account, store.seal?.(account, value) ?? value)
  return back !== null && isDeepStrictEqual(decodeStoredProfile(account, back), expected)
}

/** Apply a plan; on failure undo every completed step and throw an error that states the resulting state. */
export async function applyMigration(plan: MigrationPlan, files: Snapshots, deps: ApplyDeps): Promise<void> {
  const report = deps.report ?? silentReporter
  const configChanges = !plan.config.after.equals(plan.config.before)
  const credentialsChange = !plan.credentials.after.equals(plan.credentials.before)
  const titles = [
    ...plan.moves.map((m) => `Store the keys of ${m.profile} in ${storeLabel(deps.store)}`),
    ...(configChanges ? [`Point ${files.config.path} at av`] : []),
    ...(credentialsChange ? [`Remove the keys from ${files.credentials.path}`] : []),
  ]
  report.begin(titles)
  const stored: ProfileMove[] = []
  let configWritten = false
  let credentialsWritten = false
  let step = 0
  try {
    for (const move of plan.moves) {
      report.start(step)
      const account = profileAccount(move.profile)
      const value = encodeStoredProfile(move.pair, move.record)
      await deps.store.set(account, value)
      stored.push(move)
      if (!(await readsBack(deps.store, account, value))) {
        throw new AvError(
          'store-unavailable',
          `${storeLabel(deps.store)} did not return the keys of ${move.profile} as written`,
        )
      }

      report.done(step++)
    }

    if (configChanges) {
      report.start(step)
      await writeVerified(deps.fs, files.config, plan.config.after)
      configWritten = true
      report.done(step++)
    }

    if (credentialsChange) {
      report.start(step)
      await writeVerified(deps.fs, files.credentials, plan.credentials.after)
      credentialsWritten = true
      report.done(step++)
    }
  } catch (error) {
    report.fail(step, reason(error))
    await report.end()
    const undo = await rollBack(deps, files, plan, {stored, configWritten, credentialsWritten})
    throw new AvError(
      error instanceof AvError && error.code !== 'internal' ? error.code : 'internal',
      `migrate failed (${reason(error)}). ${undo}`,
      {cause: error, suggestion: error instanceof AvError ? error.suggestion : undefined},
    )
  }

  await report.end()
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

async function rollBack(
  deps: ApplyDeps,
  files: Snapshots,
  plan: MigrationPlan,
  done: {configWritten: boolean; credentialsWritten: boolean; stored: ProfileMove[]},
): Promise<string> {
  const failures: string[] = []
  if (done.credentialsWritten) {
    await deps.fs.write(files.credentials.path, plan.credentials.before, files.credentials).catch((error) => {
      failures.push(`${files.credentials.path} could not be put back (${reason(error)})`)
    })
  }

  if (done.configWritten) {
    const put =
      files.config.bytes === null
        ? deps.fs.remove(files.config.path)
        : deps.fs.write(files.config.path, plan.config.before, files.config)
    await put.catch((error) => failures.push(`${files.config.path} could not be put back (${reason(error)})`))
  }

  for (const move of done.stored.reverse()) {
    const account = profileAccount(move.profile)
    const undo = move.previous === null ? deps.store.delete(account) : deps.store.set(account, move.previous)
    await undo.catch(() => failures.push(`the item ${account} in ${storeLabel(deps.store)} could not be put back`))
  }

  if (failures.length === 0) {
    return `Rolled back: ${files.credentials.path} and ${files.config.path} are as they were and ${storeLabel(deps.store)} holds what it held before.`
  }

  const keysSafe = !done.credentialsWritten || !failures.some((f) => f.startsWith(files.credentials.path))
  return (
    `Rollback incomplete: ${failures.join('; ')}. ` +
    (keysSafe
      ? `Your keys are still in ${files.credentials.path}; run \`av migrate\` again to finish or \`av restore\` to undo.`
      : `Your keys are in ${storeLabel(deps.store)} and referenced from ${files.config.path}; run \`av status\` to see each profile.`)
  )
}

export interface MigrateDeps extends ApplyDeps {
  audit: AuditSink
  paths: {config: string; credentials: string}
  /** The lock file shared by migrate and restore. */
  lockFile: string
  /** Whether a person can answer a question on this terminal. */
  interactive: boolean
  /** Ask the person; resolves true to go ahead. */
  confirm?: (question: string) => Promise<boolean>
  /**
   * In custody mode, the user's own keychain: keys a keychain-mode migrate left there are moved into custody too
   * (any process of the user can read the keychain; only root can read custody).
   */
  keychain?: SecretStore
}

export interface MigrateOptions extends PlanOptions {
  dryRun?: boolean
  yes?: boolean
}

export interface MigrateResult {
  dryRun: boolean
  migrated: string[]
  skipped: SkippedProfile[]
  already: string[]
  /** Where the keys are kept, as a person reads it ("the OS keychain", "root custody"): the store's label. */
  store: string
  /** Custody mode: profiles whose keys moved (or would move) from the OS keychain into root custody. */
  adopted: string[]
  files: {config: string; credentials: string}
  /** A sentence saying what happened (or would happen). */
  summary: string
}

/** The keychain's durable items that custody mode should hold instead (all, or those of `profiles`). */
async function keychainLeftovers(keychain: SecretStore | undefined, profiles?: string[]): Promise<string[]> {
  if (!keychain) return []
  let accounts: string[]
  try {
    accounts = await keychain.list()
  } catch (error) {
    // No keychain at all (a server without a Secret Service): nothing can be left in it.
    if (error instanceof AvError && error.code === 'store-unavailable') return []
    throw error
  }

  return accounts
    .map((a) => profileOfAccount(a))
    .filter((p): p is string => p !== null && (!profiles || profiles.includes(p)))
}

/** Move each item into the durable store (custody), check root's read-back, then delete it from the keychain. */
async function adoptFromKeychain(profiles: string[], keychain: SecretStore, deps: ApplyDeps): Promise<void> {
  const moved: string[] = []
  for (const profile of profiles) {
    const account = profileAccount(profile)
    try {
      const value = await keychain.get(account)
      if (value === null) continue
      await deps.store.set(account, value)
      if (!(await readsBack(deps.store, account, value))) {
        throw new AvError('store-unavailable', `${storeLabel(deps.store)} did not return the keys as written`)
      }

      await keychain.delete(account)
      moved.push(profile)
    } catch (error) {
      const done = moved.length > 0 ? `the keys of ${moved.join(', ')} are in ${storeLabel(deps.store)} now; ` : ''
      throw new AvError(
        error instanceof AvError ? error.code : 'internal',
        `moving the keys of ${profile} from the OS keychain failed (${reason(error)}); ${done}the keys of ${profile} are still in the OS keychain`,
        {cause: error, suggestion: error instanceof AvError ? error.suggestion : undefined},
      )
    }
  }
}

/** Read both files and the store's view of every profile they name. */
export async function readState(
  deps: Pick<MigrateDeps, 'fs' | 'paths' | 'store'>,
  extraProfiles: string[] = [],
): Promise<{files: MigrationFiles; snapshots: Snapshots; store: StoreView}> {
  const snapshots: Snapshots = {
    credentials: await deps.fs.read(deps.paths.credentials, 'credentials'),
    config: await deps.fs.read(deps.paths.config, 'config'),
  }
  const files: MigrationFiles = {
    credentials: documentOf(snapshots.credentials),
    config: documentOf(snapshots.config),
    configExists: snapshots.config.bytes !== null,
  }
  const names = new Set([
    ...extraProfiles,
    ...files.config.sections.map((s) => s.profile),
    ...files.credentials.sections.map((s) => s.profile),
  ])
  const store: StoreView = {}
  for (const name of names) {
    if (name !== null) store[name] = await deps.store.get(profileAccount(name))
  }

  return {files, snapshots, store}
}

/** What migrate does, as one clause: "move the keys of a from … into … and point … at av, and move …". */
function describeMoves(moves: string[], adopt: string[], paths: MigrateDeps['paths'], where: string): string {
  const parts: string[] = []
  if (moves.length > 0) {
    parts.push(
      `move the keys of ${moves.join(', ')} from ${paths.credentials} into ${where} and point ${paths.config} at av`,
    )
  }

  if (adopt.length > 0) parts.push(`move the keys of ${adopt.join(', ')} from the OS keychain into ${where}`)
  return parts.join(', and ')
}

/** The whole `av migrate`: lock, probe the store, read, plan, confirm, apply, audit. */
export async function migrate(deps: MigrateDeps, options: MigrateOptions): Promise<MigrateResult> {
  const release = options.dryRun ? async () => {} : await acquireLock(deps.lockFile, 'migrate or restore')
  try {
    await deps.store.probe()
    if (!options.dryRun) {
      await removeOrphanedTemps(deps.paths.credentials)
      await removeOrphanedTemps(deps.paths.config)
    }

    const {files, snapshots, store} = await readState(deps, options.profiles)
    if (snapshots.credentials.bytes === null) {
      throw new AvError(
        'not-found',
        `there is no AWS credentials file at ${deps.paths.credentials}; nothing was changed`,
        {
          suggestion: 'Set AWS_SHARED_CREDENTIALS_FILE if your keys live elsewhere.',
        },
      )
    }

    const adopt = await keychainLeftovers(deps.keychain, options.profiles)
    const plan = planMigration(files, store, {
      ...options,
      // A profile whose keys are still in the keychain is not "not found": its keys move below.
      profiles: options.profiles?.filter((p) => !adopt.includes(p) || profilesWithKeys(files.credentials).includes(p)),
    })
    const result: MigrateResult = {
      dryRun: options.dryRun === true,
      migrated: plan.moves.map((m) => m.profile),
      skipped: plan.skipped,
      already: plan.already.filter((p) => !adopt.includes(p)),
      store: storeLabel(deps.store),
      adopted: adopt,
      files: deps.paths,
      summary: '',
    }
    if (plan.moves.length === 0 && adopt.length === 0) {
      result.summary =
        files.credentials.sections.length === 0
          ? `nothing to migrate: ${deps.paths.credentials} holds no profile`
          : `nothing to migrate: no profile in ${deps.paths.credentials} has keys av can move`
      return result
    }

    const where = result.store
    const what = describeMoves(
      plan.moves.map((m) => m.profile),
      adopt,
      deps.paths,
      where,
    )
    if (options.dryRun) {
      result.summary = `would ${what}`
      return result
    }

    if (!options.yes) {
      if (!deps.interactive || !deps.confirm) {
        throw new AvError(
          'needs-confirmation',
          `av migrate would ${what}, and there is no terminal to confirm it; nothing was changed`,
          {
            suggestion: 'Run it in a terminal, or add --yes (see the plan with --dry-run).',
          },
        )
      }

      if (!(await deps.confirm(`av will ${what}. Go ahead?`))) {
        throw new AvError('refused', 'cancelled; nothing was changed')
      }
    }

    if (adopt.length > 0) await adoptFromKeychain(adopt, deps.keychain!, deps)
    if (plan.moves.length > 0) await applyMigration(plan, snapshots, deps)
    const audited = await deps.audit
      .record({
        event: 'migrate',
        profiles: result.migrated,
        skipped: plan.skipped.map((s) => s.profile),
        ...(adopt.length > 0 ? {adopted: adopt} : {}),
      })
      .then(
        () => '',
        (error: Error) => ` (warning: ${error.message})`,
      )
    const moved =
      plan.moves.length > 0
        ? [
            `moved the keys of ${result.migrated.join(', ')} into ${where}; ${deps.paths.config} now runs av for ${result.migrated.length === 1 ? 'it' : 'them'}`,
          ]
        : []
    if (adopt.length > 0) moved.push(`moved the keys of ${adopt.join(', ')} from the OS keychain into ${where}`)
    result.summary = moved.join('; ') + audited
    return result
  } finally {
    await release()
  }
}
