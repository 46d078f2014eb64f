/**
 * The audit trail's tamper evidence: every line carries `seq` (1, 2, 3… across rotated files), `prev` (sha256 of
 * the previous line's bytes) and `mac` (HMAC-SHA256 of the line without its mac, keyed by 32 random bytes kept in
 * the secret store under `audit-key`). The latest chain head {seq, hash} is kept in the secret store under
 * `audit-head`, so a truncated tail shows too. The writer (audit.ts) makes the chain, audit-verify.ts checks it.
 */
import {createHash, createHmac, randomBytes} from 'node:crypto'

import type {SecretStore} from '../store/secret-store.js'

export const AUDIT_KEY_ACCOUNT = 'audit-key'
export const AUDIT_HEAD_ACCOUNT = 'audit-head'
/** `prev` of the very first line. */
export const GENESIS = '0'.repeat(64)
const MAC_SUFFIX = /,"mac":"([\da-f]{64})"\}$/

export interface ChainHead {
  hash: string
  seq: number
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex')
}

export function macOf(key: Buffer, body: string): string {
  return createHmac('sha256', key).update(body, 'utf8').digest('hex')
}

/** Split a written line into the body the mac covers and the mac itself (null when it has none). */
export function splitMac(line: string): {body: string; mac: null | string} {
  const match = MAC_SUFFIX.exec(line)
  if (!match) return {body: line, mac: null}
  return {body: line.slice(0, match.index) + '}', mac: match[1]!}
}

export function parseHead(raw: null | string): ChainHead | null {
  if (raw === null) return null
  try {
    const value = JSON.parse(raw) as Partial<ChainHead>
    if (Number.isInteger(value.seq) && typeof value.hash === 'string') return {hash: value.hash, seq: value.seq!}
  } catch {}

  return null
}

/** The audit key from the secret store; created (32 random bytes) when `create` and none is stored yet. */
export async function loadAuditKey(store: SecretStore, options: {create: boolean}): Promise<Buffer | null> {
  const raw = await store.get(AUDIT_KEY_ACCOUNT)
  if (raw !== null) return Buffer.from(raw, 'base64')
  if (!options.create) return null
  const key = randomBytes(32)
  await store.set(AUDIT_KEY_ACCOUNT, key.toString('base64'))
  return key
}

/** {seq, hash} of a line if it is a chained audit line, else null. */
export function chainedLine(line: string): ChainHead | null {
  if (!line.startsWith('{')) return null
  try {
    const value = JSON.parse(line) as {seq?: unknown}
    if (typeof value.seq === 'number' && Number.isInteger(value.seq)) return {hash: sha256Hex(line), seq: value.seq}
  } catch {}

  return null
}
