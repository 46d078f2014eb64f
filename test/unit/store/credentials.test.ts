import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {AvError} from '../../../src/lib/core/errors.js'
import {decodeKeyPair, encodeKeyPair, profileAccount, readKeyPair} from '../../../src/lib/store/credentials.js'
import {MemoryStore} from '../../fakes/memory-store.js'

const CANARY = {accessKeyId: 'AKIAAVCANARY00000001', secretAccessKey: 'avCanarySecret/0000000000000000000000001'}

describe('stored key pairs', () => {
  it('round-trips with and without a session token', () => {
    assert.deepEqual(decodeKeyPair('aws:a', encodeKeyPair(CANARY)), CANARY)
    const withToken = {...CANARY, sessionToken: 'avCanaryToken'}
    assert.deepEqual(decodeKeyPair('aws:a', encodeKeyPair(withToken)), withToken)
  })

  const bad: Array<[string, string, RegExp]> = [
    ['not JSON', 'nope' + CANARY.secretAccessKey, /not valid JSON/],
    ['unknown schema version', JSON.stringify({...CANARY, v: 2}), /schema version 2, this av reads version 1/],
    ['missing version', JSON.stringify(CANARY), /schema version null/],
    ['missing secret', JSON.stringify({v: 1, accessKeyId: CANARY.accessKeyId}), /lacks accessKeyId or secretAccessKey/],
    ['token not a string', JSON.stringify({v: 1, ...CANARY, sessionToken: 5}), /sessionToken that is not a string/],
  ]
  for (const [name, raw, message] of bad) {
    it(`refuses ${name} without echoing the value`, () => {
      assert.throws(
        () => decodeKeyPair('aws:p', raw),
        (error: unknown) => {
          assert.ok(error instanceof AvError)
          assert.equal(error.code, 'store-corrupt')
          assert.match(error.message, message)
          assert.ok(!error.message.includes(CANARY.secretAccessKey))
          return true
        },
      )
    })
  }

  it('reads null for a profile that is not stored and the pair for one that is', async () => {
    const store = new MemoryStore()
    assert.equal(await readKeyPair(store, 'dev'), null)
    await store.set(profileAccount('dev'), encodeKeyPair(CANARY))
    assert.deepEqual(await readKeyPair(store, 'dev'), CANARY)
  })

  it('reports an unavailable store as a typed error, not as "not stored"', async () => {
    const store = new MemoryStore()
    store.unavailable = true
    await assert.rejects(
      readKeyPair(store, 'dev'),
      (error: unknown) => error instanceof AvError && error.code === 'store-unavailable',
    )
  })
})
