/**
 * `av add --profile P`: a key typed on the terminal (echo off) goes straight into av's store, and the config file
 * gets the same `credential_process` line `av migrate` writes, so the key never touches a file, argv or the
 * environment. The store item carries a restore record as if the key had come from `[P]` in the credentials file:
 * `av restore` then writes it there, which is what handing a key back means.
 *
 * Order, as for migrate (applyMigration): the key into the store (read back), then config. Before anything is
 * written the key is checked with GetCallerIdentity (unless the caller says not to), so a mistyped secret is never
 * stored. Killed between the two writes, a re-run with the same key finishes (the store already holds it); a
 * different key for a profile av already holds is refused: `av rotate` is how a held key is replaced.
 */
import type {AuditSink} from '../audit/audit.js'
import type {StsTarget} from '../aws/sts-client.js'
import type {Clock} from '../core/clock.js'
import type {Policy} from '../core/policy.js'

import {acquireLock, removeOrphanedTemps} from '../aws/aws-files.js'
import {AvError} from '../core/errors.js'
import {stsEndpointOf} from '../sessions/session-settings.js'
import {type AwsKeyPair, decodeKeyPair, profileAccount} from '../store/credentials.js'
import {isSealed} from '../store/custody-keys.js'
import {storeLabel} from '../store/secret-store.js'
import {type ApplyDeps, applyMigration, readState} from './migrate.js'
import {blockerOf, editConfig, type MigrationFiles, type MigrationPlan, type StoreView} from './migration-plan.js'
import {avEntry, RECORD_VERSION, type RestoreRecord} from './migration-record.js'

export interface AddDeps extends ApplyDeps {
  audit: AuditSink
  paths: {config: string; credentials: string}
  /** The lock migrate, restore and rotate take. */
  lockFile: string
  clock: Clock
  policy: Policy
  /** Absolute real path of the av entry point the config will call (`…/bin/run.js`). */
  avPath: string
  /** The profile's region (picks STS's partition), from ~/.aws/config. */
  regionOf: (profile: string) => string | undefined
  /** One answer per question, typed with echo off; rejects when there is no terminal. */
  askHidden: (questions: string[]) => Promise<string[]>
  callerIdentity: (target: StsTarget) => Promise<{arn: string}>
}

export interface AddOptions {
  profile: string
  /** Replace a different `credential_process` of the profile (restore puts it back), as `migrate --force`. */
  force?: boolean
  /** Check the key with GetCallerIdentity before storing it (default true). */
  verify?: boolean
}

export interface AddResult {
  profile: string
  accessKeyId: string
  /** The identity GetCallerIdentity named (null without the check). */
  arn: null | string
  /** The store's label: "the OS keychain" or "root custody". */
  store: string
  /** A run interrupted between the store and the config was finished. */
  resumed: boolean
  summary: string
}

/** IAM user key ids: AKIA and 16 more; a temporary key (ASIA) needs a session token and does not rotate. */
const ACCESS_KEY_ID = /^AKIA[\dA-Z]{12,124}$/
/** AWS's are 40 characters of base64; a little room either way, none for spaces or a pasted key id. */
const SECRET_ACCESS_KEY = /^[\d+/=A-Za-z]{30,128}$/

/** The key as typed, checked for shape; the messages never repeat what was typed. */
export function checkTypedKey(accessKeyId: string, secretAccessKey: string): AwsKeyPair {
  const id = accessKeyId.trim()
  const secret = secretAccessKey.trim()
  if (id.startsWith('ASIA')) {
    throw new AvError(
      'bad-input',
      'that access key id is a temporary one (ASIA…); av add stores IAM user keys (AKIA…)',
      {
        suggestion: 'Create an access key for the IAM user (IAM console → Security credentials) and add that one.',
      },
    )
  }

  if (!ACCESS_KEY_ID.test(id)) {
    throw new AvError(
      'bad-input',
      `the access key id is not one (${id.length} characters; an IAM user key id is AKIA and 16 capitals or digits)`,
      {
        suggestion: 'Run `av add` again and paste the access key id; nothing was changed.',
      },
    )
  }

  if (!SECRET_ACCESS_KEY.test(secret)) {
    throw new AvError(
      'bad-input',
      `the secret access key is not one (${secret.length} characters; a secret access key is some 40 of A–Z, a–z, 0–9, + and /)`,
      {
        suggestion: 'Run `av add` again and paste the secret access key; nothing was changed.',
      },
    )
  }

  return {accessKeyId: id, secretAccessKey: secret}
}

/**
 * Why the profile cannot be added, or null. Checked before the key is asked, so nobody types a key for nothing.
 * `resumed`: av already holds a key for it but config does not run av for it yet (a run killed in between).
 */
export function addBlocker(
  files: MigrationFiles,
  store: StoreView,
  profile: string,
  force: boolean,
): {error: AvError | null; resumed: boolean} {
  const {config, credentials} = files
  const keyed = credentials.section(profile)
  if (keyed && ['aws_access_key_id', 'aws_secret_access_key'].some((k) => credentials.get(keyed, k))) {
    return {
      error: new AvError(
        'conflict',
        `profile ${profile} already has keys in ${credentials.file}; nothing was changed`,
        {
          suggestion: `Run \`av migrate --profile ${profile}\` to move them into av instead.`,
        },
      ),
      resumed: false,
    }
  }

  const section = config.section(profile)
  const referenced = avEntry(config, section, profile) !== undefined
  if (store[profile] && referenced) {
    return {
      error: new AvError('refused', `av already holds a key for profile ${profile}; nothing was changed`, {
        suggestion: `Run \`av rotate --profile ${profile}\` to replace it with a new one, or \`av restore --profile ${profile}\` first.`,
      }),
      resumed: false,
    }
  }

  const blocker = blockerOf(config, section, profile, force)
  if (blocker) {
    const hint =
      blocker.reason === 'other-credential-process'
        ? 'Pass --force to replace it (`av restore` puts it back).'
        : 'Use another profile name for the key.'
    return {
      error: new AvError('refused', `${blocker.detail}; nothing was changed`, {suggestion: hint}),
      resumed: false,
    }
  }

  return {error: null, resumed: Boolean(store[profile])}
}

/** The record restore reads: the key as lines 1 and 2 of a `[P]` section that holds nothing else. */
function addedRecord(files: MigrationFiles, config: RestoreRecord['config']): RestoreRecord {
  const {eol} = files.credentials
  return {
    config,
    credentials: {
      lines: [
        {after: '', before: 'aws_access_key_id = ', eol, key: 'aws_access_key_id', offset: 1},
        {after: '', before: 'aws_secret_access_key = ', eol, key: 'aws_secret_access_key', offset: 2},
      ],
      remaining: 1,
    },
    v: RECORD_VERSION,
  }
}

/** The whole `av add`: lock, probe, check, ask, verify, store, point config at av, audit. */
export async function addKey(deps: AddDeps, options: AddOptions): Promise<AddResult> {
  const {profile} = options
  const release = await acquireLock(deps.lockFile, 'migrate, restore, rotate or add')
  try {
    await deps.store.probe()
    await removeOrphanedTemps(deps.paths.config)
    const {files, snapshots, store} = await readState(deps, [profile])
    const {error, resumed} = addBlocker(files, store, profile, options.force === true)
    if (error) throw error

    const [id, secret] = await deps.askHidden([
      `AWS access key id for ${profile} (not shown): `,
      `AWS secret access key for ${profile} (not shown): `,
    ])
    const pair = checkTypedKey(id!, secret!)
    const held = store[profile]
    if (held && !isSealed(profileAccount(profile), held)) {
      const heldPair = decodeKeyPair(profileAccount(profile), held)
      if (heldPair.accessKeyId !== pair.accessKeyId || heldPair.secretAccessKey !== pair.secretAccessKey) {
        throw new AvError(
          'conflict',
          `${storeLabel(deps.store)} already holds a different key for ${profile}; nothing was changed`,
          {
            suggestion: `Run \`av restore --profile ${profile}\` first, or add the key under another profile name.`,
          },
        )
      }
    }

    let arn: null | string = null
    if (options.verify !== false) arn = await checkWorks(deps, profile, pair)

    const config = files.config.clone()
    const record = addedRecord(
      files,
      editConfig(config, profile, {avPath: deps.avPath, configExists: files.configExists, previous: held ?? null}),
    )
    const plan: MigrationPlan = {
      already: [],
      config: {after: config.serialize(), before: files.config.serialize()},
      credentials: {after: files.credentials.serialize(), before: files.credentials.serialize()},
      moves: [{pair, previous: held ?? null, profile, record}],
      skipped: [],
    }
    await applyMigration(plan, snapshots, deps)
    await deps.audit.record({accessKeyId: pair.accessKeyId, event: 'add', profile, resumed, verified: arn !== null})
    const where = storeLabel(deps.store)
    return {
      accessKeyId: pair.accessKeyId,
      arn,
      profile,
      resumed,
      store: where,
      summary:
        `added ${profile}: key ${pair.accessKeyId}${arn ? ` (${arn})` : ''} is in ${where}; ${deps.paths.config} runs av for it.\n` +
        `Next: \`av rotate --profile ${profile}\` replaces it with a key that no file, clipboard or agent has seen.`,
    }
  } finally {
    await release()
  }
}

/** GetCallerIdentity with the typed key: a key that does not work is not stored. */
async function checkWorks(deps: AddDeps, profile: string, pair: AwsKeyPair): Promise<string> {
  const target: StsTarget = {credentials: pair, ...stsEndpointOf(deps.regionOf(profile), deps.policy)}
  try {
    return (await deps.callerIdentity(target)).arn
  } catch (error) {
    const code = (error as {name?: string})?.name ?? 'Error'
    throw new AvError('sts-failed', `the key does not work: GetCallerIdentity answered ${code}; nothing was stored`, {
      cause: error,
      suggestion:
        'Check both values (a new key can take a few seconds to work) and run `av add` again; --no-verify stores it unchecked.',
    })
  }
}
