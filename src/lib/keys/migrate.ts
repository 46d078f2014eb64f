/**
 * `av migrate`: move static AWS keys from the credentials file into the secret store and point the config file
 * at av's helper, losing no other byte of either file.
 *
 * Plan, then apply. `planMigration` (migration-plan.ts) is pure: from the parsed files and what the store holds it
 * computes the store items and the exact bytes both files will have. `applyMigration` then writes in an order that
 * is safe to interrupt anywhere: (1) every pair into the store, each read back and compared; (2) the config file
 * gets av's `credential_process` line; (3) the key lines leave the credentials file. Until (3) the keys are still
 * in the credentials file; after it they are in the store and config references them. A failure rolls back what
 * was done; a SIGKILL leaves a state the next run resumes (it finds av's line and its record in the store).
 */
/* eslint-disable no-await-in-loop -- every step waits for the one before it: the order is the safety argument */
import {isDeepStrictEqual} from 'node:util'

import type {AuditSink} from '../audit/audit.js'
import type {Clock} from '../core/clock.js'
import type {StepReporter} from '../core/progress.js'
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
  type MigrationFiles,
  type MigrationPlan,
  planMigration,
  type PlanOptions,
  type ProfileMove,
  profilesWithKeys,
  type SkippedProfile,
  type StoreView,
} from './migration-plan.js'
import {decodeStoredProfile, encodeStoredProfile} from './migration-record.js'
import {applySsoMoves, planSsoMoves, type SsoCacheMove, type SsoMigrateDeps} from './sso-migrate.js'

export interface ApplyDeps {
  store: SecretStore
  fs: AwsFileSystem
  report?: StepReporter
  /** Stamps each item with when it was stored (`av status` and `av doctor` tell a key's age from it). */
  clock?: Clock
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
      const storedAt = deps.clock ? new Date(deps.clock.now()).toISOString() : undefined
      const value = encodeStoredProfile(move.pair, move.record, storedAt)
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
  /** IAM Identity Center tokens in the AWS CLI's plaintext cache, moved into av's store too (sso-migrate.ts). */
  sso?: SsoMigrateDeps
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
  /** IAM Identity Center sign-ins whose tokens moved (or would move) from ~/.aws/sso/cache into av's store. */
  ssoSignIns: string[]
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

interface Moves {
  moves: string[]
  adopt: string[]
  sso: SsoCacheMove[]
}

/** What migrate does, as one clause: "move the keys of a from … into … and point … at av, and move …". */
function describeMoves({adopt, moves, sso}: Moves, paths: MigrateDeps['paths'], where: string): string {
  const parts: string[] = []
  if (moves.length > 0) {
    parts.push(
      `move the keys of ${moves.join(', ')} from ${paths.credentials} into ${where} and point ${paths.config} at av`,
    )
  }

  if (adopt.length > 0) parts.push(`move the keys of ${adopt.join(', ')} from the OS keychain into ${where}`)
  if (sso.length > 0) parts.push(`move ${ssoWhat(sso)} from the AWS CLI's plaintext cache into ${where}`)
  return parts.join(', and ')
}

function ssoWhat(sso: SsoCacheMove[]): string {
  const of = (kind: SsoCacheMove['kind']) =>
    sso
      .filter((m) => m.kind === kind)
      .map((m) => `${m.key} (${m.profiles.join(', ')})`)
      .join(', ')
  const parts = []
  if (of('sso')) parts.push(`the IAM Identity Center tokens of ${of('sso')}`)
  if (of('login')) parts.push(`the console sign-in (aws login) of ${of('login')}`)
  return parts.join(' and ')
}

/** What migrate did, as the summary says it. */
function describeDone({adopt, moves, sso}: Moves, config: string, where: string): string {
  const done: string[] = []
  if (moves.length > 0) {
    done.push(
      `moved the keys of ${moves.join(', ')} into ${where}; ${config} now runs av for ${moves.length === 1 ? 'it' : 'them'}`,
    )
  }

  if (adopt.length > 0) done.push(`moved the keys of ${adopt.join(', ')} from the OS keychain into ${where}`)
  if (sso.length > 0) {
    done.push(`moved ${ssoWhat(sso)} into ${where} and deleted the plaintext cache (av login renews the sign-in)`)
  }

  return done.join('; ')
}

/** The IAM Identity Center caches to move, and the profiles left for the key migration (SSO profiles have none). */
function planSso(deps: MigrateDeps, profiles: string[] | undefined): {keyProfiles?: string[]; sso: SsoCacheMove[]} {
  const {moves, profiles: ssoProfiles} = deps.sso ? planSsoMoves(deps.sso, profiles) : {moves: [], profiles: []}
  const keyProfiles = profiles?.filter((p) => !ssoProfiles.includes(p))
  return {sso: moves, ...(keyProfiles === undefined ? {} : {keyProfiles})}
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

    const {keyProfiles, sso} = planSso(deps, options.profiles)
    const {files, snapshots, store} = await readState(deps, keyProfiles)
    if (snapshots.credentials.bytes === null && sso.length === 0) {
      throw new AvError(
        'not-found',
        `there is no AWS credentials file at ${deps.paths.credentials}; nothing was changed`,
        {
          suggestion: 'Set AWS_SHARED_CREDENTIALS_FILE if your keys live elsewhere.',
        },
      )
    }

    const adopt = await keychainLeftovers(deps.keychain, keyProfiles)
    const plan = planMigration(files, store, {
      ...options,
      // A profile whose keys are still in the keychain is not "not found": its keys move below.
      profiles: keyProfiles?.filter((p) => !adopt.includes(p) || profilesWithKeys(files.credentials).includes(p)),
    })
    const result: MigrateResult = {
      dryRun: options.dryRun === true,
      migrated: plan.moves.map((m) => m.profile),
      skipped: plan.skipped,
      already: plan.already.filter((p) => !adopt.includes(p)),
      store: storeLabel(deps.store),
      adopted: adopt,
      ssoSignIns: sso.map((m) => m.key),
      files: deps.paths,
      summary: '',
    }
    if (plan.moves.length === 0 && adopt.length === 0 && sso.length === 0) {
      result.summary =
        files.credentials.sections.length === 0
          ? `nothing to migrate: ${deps.paths.credentials} holds no profile`
          : `nothing to migrate: no profile in ${deps.paths.credentials} has keys av can move`
      return result
    }

    const where = result.store
    const moves: Moves = {adopt, moves: result.migrated, sso}
    const what = describeMoves(moves, deps.paths, where)
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
    if (sso.length > 0) await applySsoMoves(sso, deps.sso!)
    const audited = await deps.audit
      .record({
        event: 'migrate',
        profiles: result.migrated,
        skipped: plan.skipped.map((s) => s.profile),
        ...(adopt.length > 0 ? {adopted: adopt} : {}),
        ...(sso.length > 0 ? {ssoSignIns: result.ssoSignIns} : {}),
      })
      .then(
        () => '',
        (error: Error) => ` (warning: ${error.message})`,
      )
    result.summary = describeDone(moves, deps.paths.config, where) + audited
    return result
  } finally {
    await release()
  }
}
