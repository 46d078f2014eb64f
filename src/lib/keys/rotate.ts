/**
 * `av rotate`: replace a profile's durable IAM user key by a new one that only ever existed inside av's store.
 *
 *   list      ListAccessKeys with the current key: IAM allows two keys per user, so a second one stops it here
 *             (nothing changed)
 *   journal   `rotate:<profile>` beside the key (root custody, or the keychain) before anything changes in IAM
 *   create    CreateAccessKey with the current key; the new pair goes into the journal at once
 *   store     the new pair replaces the old one in the key's item (its restore record kept)
 *   verify    GetCallerIdentity with the new key until it works (IAM is eventually consistent), bounded
 *   delete    DeleteAccessKey of the old key, signed with the new one
 *   sessions  cached sessions of the profile dropped; the journal removed
 *
 * Killed at any step, a re-run finishes from the journal: a key created but not yet journalled (created after the
 * journal was written, unknown to av) is deleted and created again; a journalled key is stored, verified, and only
 * then is the old one deleted. The only working key is never deleted, and the old pair stays in the journal until
 * it is. The same code runs in-process (keychain mode) and as root (custody mode, where the new secret never
 * enters a process of the user's uid).
 */
import type {AuditSink} from '../audit/audit.js'
import type {IamApi, IamTarget} from '../aws/iam-client.js'
import type {StsTarget} from '../aws/sts-client.js'
import type {Clock} from '../core/clock.js'
import type {Policy} from '../core/policy.js'
import type {SecretStore} from '../store/secret-store.js'

import {iamEndpointOf} from '../aws/iam-client.js'
import {AvError} from '../core/errors.js'
import {roleAccount, sessionAccount} from '../sessions/session-cache.js'
import {stsEndpointOf} from '../sessions/session-settings.js'
import {type AwsKeyPair, decodeKeyPair, profileAccount} from '../store/credentials.js'
import {storeLabel} from '../store/secret-store.js'

export const JOURNAL_SCHEMA = 1
/** A key IAM lists that was created this long before the journal still counts as the crashed run's own. */
const CLOCK_SKEW_MS = 5 * 60 * 1000

export type RotateStep =
  'create' | 'delete' | 'journal' | 'list' | 'orphan' | 'resume' | 'sessions' | 'store' | 'verify'

export interface RotateDeps {
  /** Where the key item (`aws:P`) and the journal (`rotate:P`) live: the keychain, or root's custody store. */
  store: SecretStore
  iam: () => Promise<IamApi>
  callerIdentity: (target: StsTarget) => Promise<{arn: string}>
  policy: Policy
  /** The profile's region (for the STS and IAM partitions), from the user's ~/.aws/config. */
  regionOf: (profile: string) => string | undefined
  clock: Clock
  sleep: (ms: number) => Promise<void>
  audit: AuditSink
  /** One line per step, as it happens. */
  step: (profile: string, step: RotateStep, text: string) => void
  /** How long to wait for the new key to work (default 120 s). */
  verifyTimeoutMs?: number
}

export interface RotateResult {
  profile: string
  oldAccessKeyId: string
  newAccessKeyId: string
  /** A journal from an interrupted run was finished. */
  resumed: boolean
  /** Milliseconds until the new key worked, and how many GetCallerIdentity calls that took. */
  verifyMs: number
  verifyAttempts: number
  ms: number
}

interface Journal {
  v: typeof JOURNAL_SCHEMA
  profile: string
  started: number
  old: AwsKeyPair
  new?: AwsKeyPair
}

export function journalAccount(profile: string): string {
  return `rotate:${profile}`
}

function decodeJournal(profile: string, raw: null | string): Journal | null {
  if (raw === null) return null
  let doc: Partial<Journal>
  try {
    doc = JSON.parse(raw) as Partial<Journal>
  } catch {
    doc = {}
  }

  if (
    doc.v !== JOURNAL_SCHEMA ||
    typeof doc.started !== 'number' ||
    !doc.old?.accessKeyId ||
    !doc.old.secretAccessKey
  ) {
    throw new AvError('store-corrupt', `the rotation journal of ${profile} cannot be read`, {
      suggestion: `Check the profile's keys in the IAM console, then delete the item ${journalAccount(profile)}.`,
    })
  }

  return doc as Journal
}

const RETRY_NAMES = new Set([
  'AuthFailure',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'UnrecognizedClientException',
])

/** Name of an AWS error (the SDK's and iam-client's errors carry AWS's code as `name`). */
function codeOf(error: unknown): string {
  return (error as {name?: string})?.name ?? 'Error'
}

function describe(error: unknown, action: string, profile: string): AvError {
  if (error instanceof AvError) return error
  const code = codeOf(error)
  const message = String((error as {message?: string})?.message ?? '').replaceAll(
    /\b(?:AKIA|ASIA)[\dA-Z]{12,}\b/g,
    '[key id]',
  )
  const hints: Record<string, string> = {
    AccessDenied: `Allow the user iam:ListAccessKeys, iam:CreateAccessKey and iam:DeleteAccessKey on itself.`,
    InvalidClientTokenId:
      'The stored key is deleted or inactive: check the IAM console, then `av migrate` a working key.',
  }
  return new AvError('sts-failed', `IAM ${action} for profile ${profile} failed: ${code}: ${message.slice(0, 300)}`, {
    cause: error,
    suggestion: hints[code] ?? 'Run `av rotate` again: it continues where it stopped.',
  })
}

class Rotation {
  private readonly iamTarget: (credentials: AwsKeyPair) => IamTarget
  private readonly stsTarget: (credentials: AwsKeyPair) => StsTarget

  constructor(
    private readonly deps: RotateDeps,
    private readonly profile: string,
  ) {
    const region = deps.regionOf(profile)
    const iam = iamEndpointOf(region, deps.policy)
    const sts = stsEndpointOf(region, deps.policy)
    this.iamTarget = (credentials) => ({credentials, ...iam})
    this.stsTarget = (credentials) => ({credentials, ...sts})
  }

  async run(): Promise<RotateResult> {
    const {clock, store} = this.deps
    const {profile} = this
    const begin = clock.now()
    const account = profileAccount(profile)
    const raw = await store.get(account)
    if (raw === null) {
      throw new AvError('not-found', `av holds no key for profile ${profile}`, {
        suggestion: 'Run `av migrate` first: av rotates the keys it holds.',
      })
    }

    const current = decodeKeyPair(account, raw)
    if (current.sessionToken !== undefined) {
      throw new AvError(
        'bad-input',
        `the key of ${profile} is temporary (it has a session token): only IAM user keys rotate`,
      )
    }

    let journal = decodeJournal(profile, await store.get(journalAccount(profile)))
    const resumed = journal !== null
    if (journal === null) {
      const others = await this.otherKeys(current)
      if (others.length > 0) throw this.twoKeys(current, others)
      journal = {old: current, profile, started: clock.now(), v: JOURNAL_SCHEMA}
      await this.save(journal)
      await this.note('journal', `journal written before CreateAccessKey (old key ${current.accessKeyId})`)
    } else {
      const known = [journal.old.accessKeyId, journal.new?.accessKeyId]
      if (!known.includes(current.accessKeyId)) {
        throw new AvError('store-corrupt', `the rotation journal of ${profile} names keys other than the stored one`, {
          suggestion: `Check the keys in the IAM console, then delete the item ${journalAccount(profile)}.`,
        })
      }

      await this.note('resume', `finishing an interrupted rotation of ${journal.old.accessKeyId}`)
    }

    if (journal.new === undefined) journal = await this.create(journal, resumed)
    const fresh = journal.new!
    if (current.accessKeyId !== fresh.accessKeyId) {
      const doc = JSON.parse(raw) as Record<string, unknown>
      // `rotated` tells `av restore` that the key it writes back is not the one migrate took (that one is gone).
      const now = new Date(clock.now()).toISOString()
      const rotated = {at: now, from: journal.old.accessKeyId}
      // keyCreated: the new key's age for `av status` and `av doctor` (CreateAccessKey ran moments ago).
      const value = JSON.stringify({
        ...doc,
        accessKeyId: fresh.accessKeyId,
        keyCreated: new Date(journal.started).toISOString(),
        rotated,
        secretAccessKey: fresh.secretAccessKey,
        storedAt: now,
      })
      await store.set(account, value)
      if ((await store.get(account)) !== value)
        throw new AvError('store-unavailable', `${account} was not kept as written`)
      await this.note('store', `new key ${fresh.accessKeyId} stored in ${storeLabel(store)}`)
    }

    const verifyStart = clock.now()
    const attempts = await this.verify(fresh)
    const verifyMs = clock.now() - verifyStart
    await this.note('verify', `new key works (GetCallerIdentity, ${attempts} attempt(s), ${verifyMs} ms)`)
    await this.deleteOld(journal.old.accessKeyId, fresh)
    for (const item of [sessionAccount(profile), roleAccount(profile)]) await store.delete(item) // eslint-disable-line no-await-in-loop
    await store.delete(journalAccount(profile))
    await this.note('sessions', 'cached sessions dropped; rotation done')
    return {
      ms: clock.now() - begin,
      newAccessKeyId: fresh.accessKeyId,
      oldAccessKeyId: journal.old.accessKeyId,
      profile,
      resumed,
      verifyAttempts: attempts,
      verifyMs,
    }
  }

  private async create(journal: Journal, resumed: boolean): Promise<Journal> {
    if (resumed) {
      // Killed between CreateAccessKey and the journal: a key created since the journal is this rotation's,
      // and its secret is lost, so it is deleted (never the stored one). Any older second key is the user's.
      const others = await this.otherKeys(journal.old)
      const orphans = others.filter((k) => k.createDate >= journal.started - CLOCK_SKEW_MS)
      /* eslint-disable no-await-in-loop -- at most one */
      for (const orphan of orphans) {
        await this.iam('DeleteAccessKey', (iam) => iam.deleteAccessKey(this.iamTarget(journal.old), orphan.accessKeyId))
        await this.note(
          'orphan',
          `deleted ${orphan.accessKeyId}, created by the interrupted run before it was journalled`,
        )
      }
      /* eslint-enable no-await-in-loop */

      const theirs = others.filter((k) => !orphans.includes(k))
      if (theirs.length > 0) {
        await this.deps.store.delete(journalAccount(this.profile))
        throw this.twoKeys(journal.old, theirs)
      }
    }

    const created = await this.iam('CreateAccessKey', (iam) => iam.createAccessKey(this.iamTarget(journal.old)))
    const next: Journal = {
      ...journal,
      new: {accessKeyId: created.accessKeyId, secretAccessKey: created.secretAccessKey},
    }
    await this.save(next)
    await this.note('create', `created ${created.accessKeyId} (journalled)`)
    return next
  }

  private async deleteOld(oldId: string, fresh: AwsKeyPair): Promise<void> {
    try {
      await this.retrying('DeleteAccessKey', (iam) => iam.deleteAccessKey(this.iamTarget(fresh), oldId))
      await this.note('delete', `deleted the old key ${oldId}`)
    } catch (error) {
      if (codeOf((error as AvError).cause ?? error) !== 'NoSuchEntity') throw error
      await this.note('delete', `the old key ${oldId} was already deleted`)
    }
  }

  private async iam<T>(action: string, body: (iam: IamApi) => Promise<T>): Promise<T> {
    try {
      return await body(await this.deps.iam())
    } catch (error) {
      throw describe(error, action, this.profile)
    }
  }

  private async note(step: RotateStep, text: string): Promise<void> {
    await this.deps.audit.record({event: 'rotate', profile: this.profile, step, text})
    this.deps.step(this.profile, step, text)
  }

  /** The user's keys other than `key`, from ListAccessKeys signed with `key`. */
  private async otherKeys(key: AwsKeyPair) {
    const keys = await this.iam('ListAccessKeys', (iam) => iam.listAccessKeys(this.iamTarget(key)))
    await this.note('list', `IAM lists ${keys.length} key(s) for the user`)
    return keys.filter((k) => k.accessKeyId !== key.accessKeyId)
  }

  /** `body` until it stops failing with "this key is not known (yet)", within the verify timeout. */
  private async retrying<T>(action: string, body: (iam: IamApi) => Promise<T>): Promise<T> {
    const deadline = this.deps.clock.now() + (this.deps.verifyTimeoutMs ?? 120_000)
    for (let delay = 500; ; delay = Math.min(delay * 2, 5000)) {
      try {
        return await body(await this.deps.iam()) // eslint-disable-line no-await-in-loop
      } catch (error) {
        if (!RETRY_NAMES.has(codeOf(error)) || this.deps.clock.now() + delay > deadline)
          throw describe(error, action, this.profile)
      }

      await this.deps.sleep(delay) // eslint-disable-line no-await-in-loop
    }
  }

  private async save(journal: Journal): Promise<void> {
    const value = JSON.stringify(journal)
    await this.deps.store.set(journalAccount(this.profile), value)
    if ((await this.deps.store.get(journalAccount(this.profile))) !== value) {
      throw new AvError('store-unavailable', `the rotation journal of ${this.profile} was not kept as written`)
    }
  }

  private twoKeys(current: AwsKeyPair, others: Array<{accessKeyId: string}>): AvError {
    const ids = others.map((k) => k.accessKeyId).join(', ')
    return new AvError(
      'refused',
      `the IAM user of ${this.profile} already has two access keys (${current.accessKeyId}, the one av holds, and ${ids}); IAM allows two, so av cannot create a new one. Nothing was changed`,
      {
        suggestion: `Delete ${ids} if nothing uses it (IAM console, or \`av run -- aws iam delete-access-key --access-key-id ${others[0]!.accessKeyId}\`), then run \`av rotate\` again.`,
      },
    )
  }

  /** GetCallerIdentity with the new key until it works; the number of calls it took. */
  private async verify(fresh: AwsKeyPair): Promise<number> {
    const deadline = this.deps.clock.now() + (this.deps.verifyTimeoutMs ?? 120_000)
    for (let attempt = 1, delay = 500; ; attempt++, delay = Math.min(delay * 2, 5000)) {
      try {
        await this.deps.callerIdentity(this.stsTarget(fresh)) // eslint-disable-line no-await-in-loop
        return attempt
      } catch (error) {
        if (!RETRY_NAMES.has(codeOf(error)) || this.deps.clock.now() + delay > deadline) {
          throw new AvError(
            'sts-failed',
            `the new key of ${this.profile} does not work yet (${codeOf(error)} after ${attempt} attempt(s)); the old key was kept`,
            {cause: error, suggestion: 'Run `av rotate` again in a minute: it continues where it stopped.'},
          )
        }
      }

      await this.deps.sleep(delay) // eslint-disable-line no-await-in-loop
    }
  }
}

/** Rotate one profile's durable key (or finish an interrupted rotation of it). */
export function rotateProfile(deps: RotateDeps, profile: string): Promise<RotateResult> {
  return new Rotation(deps, profile).run()
}

/** One line for each finished rotation. */
export function rotateSummary(result: RotateResult): string {
  return `rotated ${result.profile}: ${result.oldAccessKeyId} → ${result.newAccessKeyId} in ${(result.ms / 1000).toFixed(1)} s${result.resumed ? ' (finished an interrupted rotation)' : ''}`
}
