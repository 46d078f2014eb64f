/**
 * How a durable key in root custody looks from the user's side, and the rules both sides apply to it.
 *
 * The user's uid never sees a custody key: it sees the item *sealed* — the same JSON (restore record included, so
 * `av migrate` and `av restore` plan exactly as in keychain mode) with every key field replaced by SEALED. It can
 * send a sealed item back (a rolled-back or resumed migrate re-writing only the record), and custody keeps the
 * key it holds. It can delete an item only with a proof that it holds the key: the sha256 of the pair, which it
 * has only after taking the key out with the user's password (`checkout`), or because it just stored that key.
 */
import {createHash, timingSafeEqual} from 'node:crypto'

import {AvError} from '../core/errors.js'
import {type AwsKeyPair, decodeKeyPair} from './credentials.js'

/** What a sealed item holds instead of a key field: obviously not a key, and no secret. */
export const SEALED = '(held in root custody)'

const KEY_FIELDS = ['accessKeyId', 'secretAccessKey', 'sessionToken'] as const

/** The item with its key fields replaced by SEALED (the rest, the restore record, unchanged). */
export function sealValue(account: string, raw: string): string {
  decodeKeyPair(account, raw)
  const doc = JSON.parse(raw) as Record<string, unknown>
  for (const field of KEY_FIELDS) if (doc[field] !== undefined) doc[field] = SEALED
  return JSON.stringify(doc)
}

export function isSealed(account: string, raw: string): boolean {
  const pair = decodeKeyPair(account, raw)
  return pair.accessKeyId === SEALED || pair.secretAccessKey === SEALED
}

/** Proof of holding a key pair: sha256 over its fields (a 40-character random secret cannot be guessed from it). */
export function keyProof(pair: AwsKeyPair): string {
  return createHash('sha256')
    .update(JSON.stringify([pair.accessKeyId, pair.secretAccessKey, pair.sessionToken ?? null]))
    .digest('hex')
}

export function proofMatches(pair: AwsKeyPair, proof: string): boolean {
  const want = Buffer.from(keyProof(pair), 'hex')
  const got = Buffer.from(/^[\da-f]{64}$/.test(proof) ? proof : '', 'hex')
  return got.length === want.length && timingSafeEqual(got, want)
}

function samePair(a: AwsKeyPair, b: AwsKeyPair): boolean {
  return a.accessKeyId === b.accessKeyId && a.secretAccessKey === b.secretAccessKey && a.sessionToken === b.sessionToken
}

/**
 * The value custody keeps when the user stores `incoming` over `existing`. A sealed item keeps the held key and
 * takes the rest; a real key may be stored where none is, or over the very same key (a new record); replacing a
 * different key is a conflict — otherwise any process of the user could swap the key root signs with.
 */
export function mergeStored(account: string, existing: null | string, incoming: string): string {
  const pair = decodeKeyPair(account, incoming)
  if (isSealed(account, incoming)) {
    if (existing === null) {
      throw new AvError('not-found', `custody holds no key for ${account}, so a sealed item cannot be stored`)
    }

    const held = JSON.parse(existing) as Record<string, unknown>
    const doc = JSON.parse(incoming) as Record<string, unknown>
    for (const field of KEY_FIELDS) {
      if (held[field] === undefined) delete doc[field]
      else doc[field] = held[field]
    }

    return JSON.stringify(doc)
  }

  if (existing !== null && !samePair(decodeKeyPair(account, existing), pair)) {
    throw new AvError('conflict', `custody already holds a different key for ${account}`, {
      suggestion: 'Take the old key out first with `av restore` (sudo asks your password), then migrate again.',
    })
  }

  return incoming
}
