/**
 * The session cache: one secret-store item per profile (`session:<profile>`, `role:<profile>`), versioned JSON
 * bound to the settings that made it, reused while at least 15 minutes remain (botocore refreshes below that).
 * Never a file.
 */
import {createHash} from 'node:crypto'

import type {TemporaryCredentials} from '../aws/sts-client.js'

export const REFRESH_MARGIN_MS = 15 * 60 * 1000
export const CACHE_SCHEMA = 1

export function sessionAccount(profile: string): string {
  return `session:${profile}`
}

export function roleAccount(profile: string): string {
  return `role:${profile}`
}

export interface CacheRecord {
  binding: string
  credentials: TemporaryCredentials
}

export function bindingOf(parts: Record<string, unknown>): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex')
}

export function encodeCache(kind: 'role' | 'session', binding: string, c: TemporaryCredentials): string {
  return JSON.stringify({
    v: CACHE_SCHEMA,
    kind,
    binding,
    accessKeyId: c.accessKeyId,
    secretAccessKey: c.secretAccessKey,
    sessionToken: c.sessionToken,
    expiration: new Date(c.expiration).toISOString(),
  })
}

/** A cached item that cannot be read is a miss (it is disposable), never an error. */
export function decodeCache(raw: null | string, kind: 'role' | 'session'): CacheRecord | null {
  if (raw === null) return null
  try {
    const r = JSON.parse(raw) as Record<string, unknown>
    const expiration = typeof r.expiration === 'string' ? Date.parse(r.expiration) : Number.NaN
    if (
      r.v !== CACHE_SCHEMA ||
      r.kind !== kind ||
      typeof r.binding !== 'string' ||
      typeof r.accessKeyId !== 'string' ||
      typeof r.secretAccessKey !== 'string' ||
      typeof r.sessionToken !== 'string' ||
      Number.isNaN(expiration)
    ) {
      return null
    }

    return {
      binding: r.binding,
      credentials: {
        accessKeyId: r.accessKeyId,
        expiration,
        secretAccessKey: r.secretAccessKey,
        sessionToken: r.sessionToken,
      },
    }
  } catch {
    return null
  }
}

export function fresh(record: CacheRecord | null, binding: string, nowMs: number): record is CacheRecord {
  return record !== null && record.binding === binding && record.credentials.expiration - nowMs >= REFRESH_MARGIN_MS
}
