import type {SecretStore} from './secret-store.js'

/**
 * The value av keeps in the secret store for one AWS profile, and its account name. Versioned JSON, so a
 * future format is refused clearly instead of being misread.
 */
import {AvError} from '../core/errors.js'

export const CREDENTIALS_SCHEMA = 1

export interface AwsKeyPair {
  accessKeyId: string
  secretAccessKey: string
  sessionToken?: string
}

export function profileAccount(profile: string): string {
  return `aws:${profile}`
}

export function profileOfAccount(account: string): null | string {
  return account.startsWith('aws:') ? account.slice(4) : null
}

export function encodeKeyPair(pair: AwsKeyPair): string {
  const value: Record<string, number | string> = {
    v: CREDENTIALS_SCHEMA,
    accessKeyId: pair.accessKeyId,
    secretAccessKey: pair.secretAccessKey,
  }
  if (pair.sessionToken !== undefined) value.sessionToken = pair.sessionToken
  return JSON.stringify(value)
}

/** Parse a stored value. Errors name the account and the problem, never the value. */
export function decodeKeyPair(account: string, raw: string): AwsKeyPair {
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch {
    throw new AvError('store-corrupt', `the keychain item ${account} is not valid JSON`, {
      suggestion: 'Run `av restore` from a backup, or delete the item and run `av migrate` again.',
    })
  }

  const record = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>
  if (record.v !== CREDENTIALS_SCHEMA) {
    throw new AvError(
      'store-corrupt',
      `the keychain item ${account} has schema version ${JSON.stringify(record.v ?? null)}, this av reads version ${CREDENTIALS_SCHEMA}`,
      {suggestion: 'Upgrade av to the version that wrote this item.'},
    )
  }

  const {accessKeyId, secretAccessKey, sessionToken} = record
  if (typeof accessKeyId !== 'string' || typeof secretAccessKey !== 'string' || !accessKeyId || !secretAccessKey) {
    throw new AvError('store-corrupt', `the keychain item ${account} lacks accessKeyId or secretAccessKey`)
  }

  if (sessionToken !== undefined && typeof sessionToken !== 'string') {
    throw new AvError('store-corrupt', `the keychain item ${account} has a sessionToken that is not a string`)
  }

  return sessionToken === undefined ? {accessKeyId, secretAccessKey} : {accessKeyId, secretAccessKey, sessionToken}
}

export async function readKeyPair(store: SecretStore, profile: string): Promise<AwsKeyPair | null> {
  const account = profileAccount(profile)
  const raw = await store.get(account)
  return raw === null ? null : decodeKeyPair(account, raw)
}
