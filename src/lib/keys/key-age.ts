/**
 * How old each durable key av holds is: IAM's CreateDate when ListAccessKeys may be asked (`av doctor`; in custody
 * mode root asks, with the key it holds), else what the store item says — when `av rotate` created it, or when
 * `av migrate` / `av add` stored it (`av status`, which reads only the item; sealed items keep these fields).
 * Past ROTATE_AFTER_DAYS av suggests `av rotate`.
 */
import type {Policy} from '../core/policy.js'
import type {SecretStore} from '../store/secret-store.js'

import {type IamApi, iamEndpointOf, iamError} from '../aws/iam-client.js'
import {AvError} from '../core/errors.js'
import {type AwsKeyPair, decodeKeyPair, profileAccount, profileOfAccount} from '../store/credentials.js'

export const ROTATE_AFTER_DAYS = 90
const DAY_MS = 24 * 60 * 60 * 1000

export type KeyAgeSource = 'iam' | 'rotated' | 'stored' | 'unknown'

export interface KeyAge {
  profile: string
  /** Milliseconds since the epoch: when the key was created (iam, rotated) or stored (stored); null: unknown. */
  since: null | number
  source: KeyAgeSource
  /** Why IAM was not asked or did not answer (the age then comes from the item). */
  iamError?: string
}

/** What the item alone says (rotate writes `keyCreated`; migrate, add and rotate write `storedAt`). */
export function itemAge(profile: string, raw: string): KeyAge {
  const doc = JSON.parse(raw) as {keyCreated?: unknown; storedAt?: unknown}
  const created = typeof doc.keyCreated === 'string' ? Date.parse(doc.keyCreated) : Number.NaN
  if (!Number.isNaN(created)) return {profile, since: created, source: 'rotated'}
  const stored = typeof doc.storedAt === 'string' ? Date.parse(doc.storedAt) : Number.NaN
  if (!Number.isNaN(stored)) return {profile, since: stored, source: 'stored'}
  return {profile, since: null, source: 'unknown'}
}

/** IAM's CreateDate of `pair`'s key (ListAccessKeys signed with it), or the reason it is not known. */
export type AskIam = (profile: string, pair: AwsKeyPair) => Promise<number>

/** `av doctor` waits this long for IAM per key before it falls back to the item's date. */
export const IAM_AGE_TIMEOUT_MS = 4000

/**
 * AskIam over `iam`: ListAccessKeys signed with the key itself (an IAM user may list its own keys when its policy
 * allows), at the profile's partition's IAM or the root policy's `iam.endpoint`.
 */
export function iamCreateDate(
  iam: IamApi,
  policy: Pick<Policy, 'iam'>,
  regionOf: (profile: string) => string | undefined,
): AskIam {
  return async (profile, pair) => {
    const target = {credentials: pair, ...iamEndpointOf(regionOf(profile), policy), timeoutMs: IAM_AGE_TIMEOUT_MS}
    const own = (await iam.listAccessKeys(target)).find((k) => k.accessKeyId === pair.accessKeyId)
    if (!own?.createDate) throw iamError('NotListed', "ListAccessKeys did not list the profile's own key")
    return own.createDate
  }
}

/** The item's pair, or null when it does not decode (that item's fault is reported by the commands that use it). */
function pairOf(profile: string, raw: string): AwsKeyPair | null {
  try {
    return decodeKeyPair(profileAccount(profile), raw)
  } catch (error) {
    if (error instanceof AvError) return null
    throw error
  }
}

/**
 * The age of every durable IAM user key in `store`. Temporary pairs have no IAM key behind them and items that do
 * not decode have no key to date: both are left out. With `askIam`, IAM's answer wins over the item's; the calls
 * run side by side.
 */
export async function keyAges(store: SecretStore, askIam?: AskIam): Promise<KeyAge[]> {
  const profiles = (await store.list()).map((a) => profileOfAccount(a)).filter((p) => p !== null)
  const items = await Promise.all(profiles.map(async (p) => [p, await store.get(profileAccount(p))] as const))
  const held = items.filter((entry): entry is readonly [string, string] => entry[1] !== null)
  const durable = held.flatMap(([profile, raw]) => {
    const pair = pairOf(profile, raw)
    return pair && pair.sessionToken === undefined ? [{pair, profile, raw}] : []
  })
  return Promise.all(
    durable.map(async ({pair, profile, raw}): Promise<KeyAge> => {
      const fromItem = itemAge(profile, raw)
      if (!askIam) return fromItem
      try {
        return {profile, since: await askIam(profile, pair), source: 'iam'}
      } catch (error) {
        const name = (error as {name?: string})?.name ?? 'Error'
        return {...fromItem, iamError: name === 'Error' ? String((error as Error)?.message).slice(0, 120) : name}
      }
    }),
  )
}

export function ageInDays(age: KeyAge, now: number): null | number {
  return age.since === null ? null : Math.max(0, Math.floor((now - age.since) / DAY_MS))
}

const SOURCE_TEXT: Record<KeyAgeSource, string> = {
  iam: "IAM's CreateDate",
  rotated: 'created by av rotate',
  stored: 'stored by av; the key may be older',
  unknown: 'age unknown',
}

/** "143 days (IAM's CreateDate)" — or "age unknown (…)" — for one key. */
export function describeAge(age: KeyAge, now: number): string {
  const days = ageInDays(age, now)
  const why = age.iamError ? `; IAM not asked: ${age.iamError}` : ''
  if (days === null) return `age unknown (av stored it before it recorded dates${why})`
  return `${days} day${days === 1 ? '' : 's'} (${SOURCE_TEXT[age.source]}${why})`
}

/** Whether av should suggest `av rotate` for this key. */
export function dueForRotation(age: KeyAge, now: number): boolean {
  const days = ageInDays(age, now)
  return days !== null && days > ROTATE_AFTER_DAYS
}
