import assert from 'node:assert/strict'
import {createHash, createHmac} from 'node:crypto'
import {describe, it} from 'node:test'

import {
  hashArgv,
  loadTokenKey,
  mintToken,
  TOKEN_KEY_ACCOUNT,
  TOKEN_MAX_LENGTH,
  type TokenClaims,
  verifyToken,
} from '../../../src/lib/run/token.js'
import {MemoryStore} from '../../fakes/memory-store.js'

const KEY = Buffer.alloc(32, 7)
const OTHER_KEY = Buffer.alloc(32, 8)
const NOW = 1_800_000_000_000
const HOUR = 3_600_000

const CLAIMS: TokenClaims = {
  v: 1,
  launcherPid: 4242,
  launcherStart: '123456',
  profile: 'dev',
  argvHash: hashArgv(['/usr/bin/python3', '-I', '/usr/bin/aws', 's3', 'ls']),
  configHash: 'a'.repeat(64),
  issued: NOW,
  expires: NOW + 12 * HOUR,
}

/** Re-sign an arbitrary payload with KEY, the way only the key holder could. */
function signRaw(payloadJson: string, key = KEY): string {
  const signed = `v1.${Buffer.from(payloadJson).toString('base64url')}`
  return `${signed}.${createHmac('sha256', key).update(signed).digest('base64url')}`
}

describe('token', () => {
  it('hashArgv is sha256 over NUL-joined argv and tells ["a b"] from ["a", "b"]', () => {
    assert.equal(hashArgv(['a', 'b']), createHash('sha256').update('a\0b').digest('hex'))
    assert.equal(hashArgv(['a']), 'ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb')
    assert.notEqual(hashArgv(['a b']), hashArgv(['a', 'b']))
    assert.notEqual(hashArgv(['ab']), hashArgv(['a', 'b']))
  })

  it('round-trips the claims, with and without elevated', () => {
    for (const claims of [CLAIMS, {...CLAIMS, elevated: true}]) {
      const token = mintToken(KEY, claims)
      assert.match(token, /^v1\.[\w-]+\.[\w-]{43}$/)
      assert.deepEqual(verifyToken(KEY, token, NOW + 1000), {claims, ok: true})
    }
  })

  it('stays valid for the whole run and expires at `expires`', () => {
    const token = mintToken(KEY, CLAIMS)
    assert.equal(verifyToken(KEY, token, NOW + 12 * HOUR - 1).ok, true)
    assert.deepEqual(verifyToken(KEY, token, NOW + 12 * HOUR), {ok: false, reason: 'token-expired'})
  })

  it('tolerates a small clock step back but refuses a token issued in the future', () => {
    const token = mintToken(KEY, CLAIMS)
    assert.equal(verifyToken(KEY, token, NOW - 30_000).ok, true)
    assert.deepEqual(verifyToken(KEY, token, NOW - 61_000), {ok: false, reason: 'token-not-yet-valid'})
  })

  it('refuses a token signed with another key', () => {
    assert.deepEqual(verifyToken(OTHER_KEY, mintToken(KEY, CLAIMS), NOW), {ok: false, reason: 'token-bad-signature'})
  })

  const tampered: Array<[string, Partial<Record<keyof TokenClaims, unknown>>]> = [
    ['launcherPid', {launcherPid: 4243}],
    ['launcherStart', {launcherStart: '123457'}],
    ['profile', {profile: 'prod'}],
    ['argvHash', {argvHash: 'b'.repeat(64)}],
    ['configHash', {configHash: 'c'.repeat(64)}],
    ['issued', {issued: NOW - 1}],
    ['expires', {expires: NOW + 48 * HOUR}],
    ['elevated', {elevated: true}],
  ]
  for (const [field, change] of tampered) {
    it(`refuses a token whose ${field} was changed after signing`, () => {
      const token = mintToken(KEY, CLAIMS)
      const [v, , tag] = token.split('.')
      const forged = {...CLAIMS, ...change}
      const payload = Buffer.from(JSON.stringify(forged)).toString('base64url')
      assert.deepEqual(verifyToken(KEY, `${v}.${payload}.${tag}`, NOW), {ok: false, reason: 'token-bad-signature'})
    })
  }

  it('refuses a flipped bit anywhere in the token', () => {
    const token = mintToken(KEY, CLAIMS)
    for (let i = 0; i < token.length; i++) {
      if (token[i] === '.') continue
      const swapped = token[i] === 'A' ? 'B' : 'A'
      const bad = token.slice(0, i) + swapped + token.slice(i + 1)
      const verdict = verifyToken(KEY, bad, NOW)
      assert.equal(verdict.ok, false, `position ${i}`)
    }
  })

  const garbage: Array<[string, string]> = [
    ['empty', ''],
    ['one part', 'v1'],
    ['two parts', 'v1.abc'],
    ['four parts', `${mintToken(KEY, CLAIMS)}.x`],
    ['wrong version', mintToken(KEY, CLAIMS).replace(/^v1/, 'v2')],
    ['non-base64url payload', 'v1.a+b/c=.' + 'A'.repeat(43)],
    ['short MAC', 'v1.abc.' + 'A'.repeat(42)],
    ['padded MAC', 'v1.abc.' + 'A'.repeat(43) + '='],
    ['huge', 'v1.' + 'A'.repeat(TOKEN_MAX_LENGTH) + '.' + 'A'.repeat(43)],
    ['binary junk', '\u0000\uFFFF..'],
    ['truncated', mintToken(KEY, CLAIMS).slice(0, -1)],
    ['payload truncated', mintToken(KEY, CLAIMS).replace(/^v1\.(.)/, 'v1.')],
  ]
  for (const [name, token] of garbage) {
    it(`refuses a ${name} token without a valid signature`, () => {
      const verdict = verifyToken(KEY, token, NOW)
      assert.equal(verdict.ok, false)
      assert.ok(
        !verdict.ok && ['token-bad-signature', 'token-malformed'].includes(verdict.reason),
        JSON.stringify(verdict),
      )
    })
  }

  it('refuses a huge token before any parsing, whatever it contains', () => {
    const huge = mintToken(KEY, {...CLAIMS, profile: 'p'.repeat(10)}) + 'A'.repeat(TOKEN_MAX_LENGTH)
    assert.deepEqual(verifyToken(KEY, huge, NOW), {ok: false, reason: 'token-malformed'})
  })

  const signedButWrong: Array<[string, string]> = [
    ['not JSON', '{"v":1,'],
    ['an array', '[1]'],
    ['version 2', JSON.stringify({...CLAIMS, v: 2})],
    ['an extra claim', JSON.stringify({...CLAIMS, extra: 1})],
    ['a missing claim', JSON.stringify({...CLAIMS, configHash: undefined})],
    ['a string pid', JSON.stringify({...CLAIMS, launcherPid: '4242'})],
    ['a short argv hash', JSON.stringify({...CLAIMS, argvHash: 'abc'})],
    ['expires before issued', JSON.stringify({...CLAIMS, expires: NOW - 1})],
    ['claims out of canonical order', JSON.stringify(Object.fromEntries(Object.entries(CLAIMS).reverse()))],
    ['whitespace in the payload', JSON.stringify(CLAIMS, null, 1)],
  ]
  for (const [name, json] of signedButWrong) {
    it(`refuses a correctly signed payload with ${name} as malformed`, () => {
      assert.deepEqual(verifyToken(KEY, signRaw(json), NOW), {ok: false, reason: 'token-malformed'})
    })
  }

  it('refuses to mint from malformed claims or with a short key', () => {
    assert.throws(() => mintToken(KEY, {...CLAIMS, argvHash: 'x'}), /malformed claims/)
    assert.throws(() => mintToken(Buffer.alloc(16), CLAIMS), /32 bytes/)
  })
})

describe('token key', () => {
  it('is created once by the launcher and then read by the helper', async () => {
    const store = new MemoryStore()
    assert.equal(await loadTokenKey(store, {create: false}), null)
    const made = await loadTokenKey(store, {create: true})
    assert.equal(made?.length, 32)
    assert.deepEqual(await loadTokenKey(store, {create: false}), made)
    assert.deepEqual(await loadTokenKey(store, {create: true}), made)
    assert.equal(Buffer.from(store.items.get(TOKEN_KEY_ACCOUNT)!, 'base64').length, 32)
  })

  it('propagates a locked store as store-unavailable and a bad item as store-corrupt', async () => {
    const store = new MemoryStore()
    store.unavailable = true
    await assert.rejects(loadTokenKey(store, {create: true}), {code: 'store-unavailable'})
    store.unavailable = false
    store.items.set(TOKEN_KEY_ACCOUNT, 'c2hvcnQ=')
    await assert.rejects(loadTokenKey(store, {create: false}), {code: 'store-corrupt'})
  })
})
