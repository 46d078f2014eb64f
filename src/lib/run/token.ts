/**
 * The per-run token: the launcher mints it, passes it to the AWS CLI in AV_RUN_TOKEN, and the credential helper
 * verifies it. It binds one run: the launcher (pid + start time, so it is worthless once that process is gone),
 * the profile, the exact argv given to the CLI and the generated config file. It stays valid for the whole run
 * (the CLI may call the helper again to refresh): the launcher sets `expires` to the run's maximum length.
 *
 * Format: `v1.<base64url payload>.<base64url HMAC-SHA256 over "v1.<payload>">`. The payload is JSON with the
 * claims in a fixed order; a token whose payload is not byte-identical to the canonical encoding of its own
 * claims is malformed. Verification refuses anything over 4 KiB before looking at it, compares MACs in constant
 * time and parses the payload only after the MAC matched. The key is 32 random bytes in the secret store.
 */
import {createHash, createHmac, randomBytes, timingSafeEqual} from 'node:crypto'

import type {RefusalReason} from '../core/refusal.js'
import type {SecretStore} from '../store/secret-store.js'

import {AvError} from '../core/errors.js'

export type {RefusalReason} from '../core/refusal.js'

export const TOKEN_ENV = 'AV_RUN_TOKEN'
export const TOKEN_KEY_ACCOUNT = 'token-key'
export const TOKEN_MAX_LENGTH = 4096
/** How long a run token is valid (a run may last long: a big `s3 sync`). */
export const RUN_TOKEN_LIFETIME_MS = 12 * 60 * 60 * 1000
/** How far in the future `issued` may lie (the clock stepped back between mint and verify). */
export const TOKEN_CLOCK_SKEW_MS = 60_000

const VERSION = 'v1'
const KEY_BYTES = 32
const MAC_BYTES = 32
const BASE64URL = /^[\w-]+$/
const SHA256_HEX = /^[\da-f]{64}$/

export interface TokenClaims {
  v: 1
  launcherPid: number
  launcherStart: string
  profile: string
  /** hashArgv of the argv the launcher gave the AWS CLI (what /proc/<cli>/cmdline shows). */
  argvHash: string
  /** sha256 hex of the generated AWS config file's bytes. */
  configHash: string
  /** Milliseconds since the epoch. */
  issued: number
  expires: number
  /** The run holds elevated (approved) session credentials. */
  elevated?: boolean
}

export type TokenVerdict = {claims: TokenClaims; ok: true} | {ok: false; reason: RefusalReason}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex')
}

/** sha256 hex of argv joined with NUL (NUL cannot occur inside an argument, so the join is unambiguous). */
export function hashArgv(argv: string[]): string {
  return sha256Hex(argv.join('\0'))
}

/** The canonical payload: fixed field order, nothing else. */
function encodeClaims(claims: TokenClaims): string {
  const ordered: Record<string, unknown> = {
    v: claims.v,
    launcherPid: claims.launcherPid,
    launcherStart: claims.launcherStart,
    profile: claims.profile,
    argvHash: claims.argvHash,
    configHash: claims.configHash,
    issued: claims.issued,
    expires: claims.expires,
  }
  if (claims.elevated !== undefined) ordered.elevated = claims.elevated
  return JSON.stringify(ordered)
}

const isHash = (v: unknown) => typeof v === 'string' && SHA256_HEX.test(v)
const isText = (v: unknown) => typeof v === 'string' && v !== ''
const isTime = (v: unknown) => Number.isSafeInteger(v)

/** One predicate per claim; a claims object has exactly these keys (elevated optional). */
const CLAIM_CHECKS: Record<keyof TokenClaims, (v: unknown) => boolean> = {
  v: (v) => v === 1,
  launcherPid: (v) => Number.isSafeInteger(v) && (v as number) > 0,
  launcherStart: isText,
  profile: isText,
  argvHash: isHash,
  configHash: isHash,
  issued: isTime,
  expires: isTime,
  elevated: (v) => v === undefined || typeof v === 'boolean',
}

/** The claims when `value` is exactly a well-typed claims object, else null. */
function asClaims(value: unknown): null | TokenClaims {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null
  const c = value as Record<string, unknown>
  if (Object.keys(c).some((k) => !Object.hasOwn(CLAIM_CHECKS, k))) return null
  for (const [key, check] of Object.entries(CLAIM_CHECKS)) if (!check(c[key])) return null
  return (c.expires as number) > (c.issued as number) ? (c as unknown as TokenClaims) : null
}

function mac(key: Buffer, signed: string): Buffer {
  return createHmac('sha256', key).update(signed).digest()
}

function checkKey(key: Buffer): void {
  if (key.length !== KEY_BYTES) throw new AvError('internal', `the token key must be ${KEY_BYTES} bytes`)
}

export function mintToken(key: Buffer, claims: TokenClaims): string {
  checkKey(key)
  if (!asClaims(claims)) throw new AvError('internal', 'refusing to mint a token from malformed claims')
  const signed = `${VERSION}.${Buffer.from(encodeClaims(claims)).toString('base64url')}`
  const token = `${signed}.${mac(key, signed).toString('base64url')}`
  if (token.length > TOKEN_MAX_LENGTH) throw new AvError('internal', 'the token would exceed its maximum length')
  return token
}

/**
 * The structural checks that need no key (length, version, encoding): the helper runs them before it touches
 * the secret store, so garbage costs nothing. Null when the token has the right shape.
 */
export function checkTokenShape(token: string): RefusalReason | null {
  if (token.length === 0 || token.length > TOKEN_MAX_LENGTH) return 'token-malformed'
  const parts = token.split('.')
  if (parts.length !== 3) return 'token-malformed'
  const [version, payload, tag] = parts as [string, string, string]
  if (version !== VERSION || !BASE64URL.test(payload) || !BASE64URL.test(tag)) return 'token-malformed'
  const tagBytes = Buffer.from(tag, 'base64url')
  // Exactly one encoding per MAC: no padding tricks or stray trailing bits.
  if (tagBytes.length !== MAC_BYTES || tagBytes.toString('base64url') !== tag) return 'token-malformed'
  return null
}

export function verifyToken(key: Buffer, token: string, nowMs: number): TokenVerdict {
  if (typeof token !== 'string') return {ok: false, reason: 'token-malformed'}
  const shape = checkTokenShape(token)
  if (shape) return {ok: false, reason: shape}
  if (key.length !== KEY_BYTES) return {ok: false, reason: 'token-bad-signature'}
  const [version, payload, tag] = token.split('.') as [string, string, string]
  const expected = mac(key, `${version}.${payload}`)
  if (!timingSafeEqual(expected, Buffer.from(tag, 'base64url'))) return {ok: false, reason: 'token-bad-signature'}

  // Only a payload the key holder signed gets parsed.
  let claims: null | TokenClaims
  try {
    const json = Buffer.from(payload, 'base64url').toString('utf8')
    claims = asClaims(JSON.parse(json))
    if (claims && Buffer.from(encodeClaims(claims)).toString('base64url') !== payload) claims = null
  } catch {
    claims = null
  }

  if (!claims) return {ok: false, reason: 'token-malformed'}
  if (nowMs >= claims.expires) return {ok: false, reason: 'token-expired'}
  if (claims.issued > nowMs + TOKEN_CLOCK_SKEW_MS) return {ok: false, reason: 'token-not-yet-valid'}
  return {claims, ok: true}
}

/**
 * The token key from the secret store. With `create` (the launcher) a missing key is made and stored; without
 * it (the helper) a missing key answers null, which on Linux usually means the keyring is locked. Store errors
 * propagate as `store-unavailable`; a stored value that is not a 32-byte key is `store-corrupt`.
 */
export async function loadTokenKey(store: SecretStore, options: {create: boolean}): Promise<Buffer | null> {
  const decode = (raw: string): Buffer => {
    const key = Buffer.from(raw, 'base64')
    if (key.length !== KEY_BYTES || key.toString('base64') !== raw) {
      throw new AvError('store-corrupt', `the keychain item ${TOKEN_KEY_ACCOUNT} is not a ${KEY_BYTES}-byte key`, {
        suggestion: `Delete the keychain item "${TOKEN_KEY_ACCOUNT}" (service av); the next \`av run\` makes a new one.`,
      })
    }

    return key
  }

  const raw = await store.get(TOKEN_KEY_ACCOUNT)
  if (raw !== null) return decode(raw)
  if (!options.create) return null
  await store.set(TOKEN_KEY_ACCOUNT, randomBytes(KEY_BYTES).toString('base64'))
  // Read back: when two launchers race to create the key, both use whichever value the store kept.
  const back = await store.get(TOKEN_KEY_ACCOUNT)
  if (back === null) {
    throw new AvError('store-unavailable', `the keychain did not keep the ${TOKEN_KEY_ACCOUNT} item av just wrote`, {
      suggestion: 'Unlock your keyring (a locked Secret Service answers reads with "nothing here").',
    })
  }

  return decode(back)
}
