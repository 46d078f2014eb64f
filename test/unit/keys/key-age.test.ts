import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {describeAge, dueForRotation, itemAge, keyAges, ROTATE_AFTER_DAYS} from '../../../src/lib/keys/key-age.js'
import {MemoryStore} from '../../fakes/memory-store.js'

const NOW = Date.parse('2026-12-01T00:00:00Z')
const DAY = 24 * 60 * 60 * 1000
const daysAgo = (n: number) => new Date(NOW - n * DAY).toISOString()
const item = (n: number, extra: Record<string, unknown> = {}) =>
  JSON.stringify({accessKeyId: `AKIAAVCANARY0000000${n}`, secretAccessKey: `avCanarySecret${n}`, v: 1, ...extra})

describe('key age', () => {
  it('an item tells when rotate created its key, else when av stored it, else nothing', () => {
    assert.deepEqual(itemAge('a', item(1, {keyCreated: daysAgo(3), storedAt: daysAgo(2)})), {
      profile: 'a',
      since: NOW - 3 * DAY,
      source: 'rotated',
    })
    assert.deepEqual(itemAge('a', item(1, {storedAt: daysAgo(2)})), {
      profile: 'a',
      since: NOW - 2 * DAY,
      source: 'stored',
    })
    assert.deepEqual(itemAge('a', item(1, {storedAt: 'not a date'})), {profile: 'a', since: null, source: 'unknown'})
  })

  it('dates every durable key in the store; sessions, other items and corrupt items are left out', async () => {
    const store = new MemoryStore()
    await store.set('aws:old', item(1, {storedAt: daysAgo(120)}))
    await store.set('aws:new', item(2, {keyCreated: daysAgo(5)}))
    await store.set('aws:temp', item(3, {sessionToken: 'avCanaryToken', storedAt: daysAgo(1)}))
    await store.set('aws:broken', '{}')
    await store.set('session:old', item(4))
    const ages = await keyAges(store)
    assert.deepEqual(ages.map((a) => [a.profile, a.source, dueForRotation(a, NOW)]).sort(), [
      ['new', 'rotated', false],
      ['old', 'stored', true],
    ])
  })

  it("IAM's CreateDate wins; when IAM cannot be asked the item's date stands and says why", async () => {
    const store = new MemoryStore()
    await store.set('aws:a', item(1, {storedAt: daysAgo(10)}))
    await store.set('aws:b', item(2, {storedAt: daysAgo(10)}))
    const asked: string[] = []
    const ages = await keyAges(store, async (profile, pair) => {
      asked.push(`${profile}:${pair.accessKeyId}`)
      if (profile === 'b') throw Object.assign(new Error('denied'), {name: 'AccessDenied'})
      return NOW - 400 * DAY
    })
    assert.deepEqual(asked.sort(), ['a:AKIAAVCANARY00000001', 'b:AKIAAVCANARY00000002'])
    const byProfile = Object.fromEntries(ages.map((a) => [a.profile, a]))
    assert.deepEqual(byProfile.a, {profile: 'a', since: NOW - 400 * DAY, source: 'iam'})
    assert.deepEqual(byProfile.b, {iamError: 'AccessDenied', profile: 'b', since: NOW - 10 * DAY, source: 'stored'})
    assert.equal(describeAge(byProfile.a!, NOW), "400 days (IAM's CreateDate)")
    assert.equal(
      describeAge(byProfile.b!, NOW),
      '10 days (stored by av; the key may be older; IAM not asked: AccessDenied)',
    )
  })

  it(`suggests a rotation only past ${ROTATE_AFTER_DAYS} days, and never for an unknown age`, () => {
    const at = (days: number) => ({profile: 'p', since: NOW - days * DAY, source: 'iam' as const})
    assert.equal(dueForRotation(at(ROTATE_AFTER_DAYS), NOW), false)
    assert.equal(dueForRotation(at(ROTATE_AFTER_DAYS + 1), NOW), true)
    const unknown = {profile: 'p', since: null, source: 'unknown' as const}
    assert.equal(dueForRotation(unknown, NOW), false)
    assert.equal(describeAge(at(1), NOW), "1 day (IAM's CreateDate)")
    assert.match(describeAge(unknown, NOW), /^age unknown/)
  })
})
