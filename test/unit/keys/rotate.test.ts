import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import type {AuditEvent} from '../../../src/lib/audit/audit.js'
import type {AccessKeyInfo, IamApi, IamTarget} from '../../../src/lib/aws/iam-client.js'
import type {StsTarget} from '../../../src/lib/aws/sts-client.js'

import {iamEndpointOf} from '../../../src/lib/aws/iam-client.js'
import {AvError} from '../../../src/lib/core/errors.js'
import {validatePolicy} from '../../../src/lib/core/policy.js'
import {journalAccount, type RotateDeps, rotateProfile, type RotateStep} from '../../../src/lib/keys/rotate.js'
import {encodeKeyPair, profileAccount} from '../../../src/lib/store/credentials.js'
import {FakeClock, sdkError} from '../../fakes/fake-sts.js'
import {MemoryStore} from '../../fakes/memory-store.js'

const OLD = {accessKeyId: 'AKIAAVCANARY0000OLD1', secretAccessKey: 'avCanarySecret/old'}
const RECORD = {
  v: 1,
  credentials: {lines: [], remaining: 0},
  config: {line: 'x', createdSection: false, addedBlank: false, createdFile: false},
}

class Killed extends Error {
  name = 'Killed'
}

/** IAM for one user: its keys (secret, created, valid from), the two-key limit, auth by the signing key. */
class FakeIam implements IamApi {
  calls: string[] = []
  keys = new Map<string, {created: number; secret: string; validFrom: number}>()
  /** Throw Killed after CreateAccessKey created the key (the answer lost: a kill before the journal). */
  killAfterCreate = false
  private n = 0

  constructor(
    private readonly clock: FakeClock,
    private readonly delayMs = 0,
  ) {
    this.keys.set(OLD.accessKeyId, {created: 0, secret: OLD.secretAccessKey, validFrom: 0})
  }

  async createAccessKey(target: IamTarget) {
    this.auth(target, 'CreateAccessKey')
    if (this.keys.size >= 2) throw sdkError('LimitExceeded', 'two keys')
    const key = {accessKeyId: `AKIAAVCANARY0000NEW${++this.n}`, secretAccessKey: `avCanarySecret/new${this.n}`}
    this.keys.set(key.accessKeyId, {
      created: this.clock.now(),
      secret: key.secretAccessKey,
      validFrom: this.clock.now() + this.delayMs,
    })
    if (this.killAfterCreate) throw new Killed('after create')
    return key
  }

  async deleteAccessKey(target: IamTarget, id: string) {
    this.auth(target, `DeleteAccessKey ${id}`)
    if (!this.keys.delete(id)) throw sdkError('NoSuchEntity', 'no such key')
  }

  async listAccessKeys(target: IamTarget): Promise<AccessKeyInfo[]> {
    this.auth(target, 'ListAccessKeys')
    return [...this.keys].map(([accessKeyId, k]) => ({accessKeyId, createDate: k.created, status: 'Active'}))
  }

  works(target: {credentials: {accessKeyId: string; secretAccessKey: string}}): boolean {
    const key = this.keys.get(target.credentials.accessKeyId)
    return key !== undefined && key.secret === target.credentials.secretAccessKey && this.clock.now() >= key.validFrom
  }

  private auth(target: IamTarget, call: string) {
    this.calls.push(`${call} by ${target.credentials.accessKeyId}`)
    if (!this.works(target)) throw sdkError('InvalidClientTokenId', 'bad key')
  }
}

function world(options: {delayMs?: number; killAfter?: RotateStep; verifyTimeoutMs?: number} = {}) {
  const clock = new FakeClock(1_000_000)
  const store = new MemoryStore()
  store.items.set(profileAccount('dev'), JSON.stringify({...JSON.parse(encodeKeyPair(OLD)), restore: RECORD}))
  store.items.set('session:dev', '{}')
  const iam = new FakeIam(clock, options.delayMs)
  const audit: AuditEvent[] = []
  const steps: RotateStep[] = []
  const deps = (killAfter = options.killAfter): RotateDeps => ({
    audit: {
      async record(e) {
        audit.push(e)
      },
    },
    async callerIdentity(target: StsTarget) {
      if (!iam.works(target)) throw sdkError('InvalidClientTokenId', 'not yet')
      return {arn: 'arn:aws:iam::123456789012:user/u'}
    },
    clock,
    iam: async () => iam,
    policy: {approvers: [], decisions: {}, endpoints: [], iam: {endpoint: 'http://127.0.0.1:1'}},
    regionOf: () => 'eu-west-1',
    async sleep(ms) {
      clock.advance(ms)
    },
    step(_profile, step) {
      steps.push(step)
      if (step === killAfter) throw new Killed(step)
    },
    store,
    ...(options.verifyTimeoutMs === undefined ? {} : {verifyTimeoutMs: options.verifyTimeoutMs}),
  })
  const stored = () => JSON.parse(store.items.get(profileAccount('dev'))!) as Record<string, unknown>
  return {audit, clock, deps, iam, steps, store, stored}
}

describe('rotateProfile', () => {
  it('creates, stores (restore record kept), verifies, deletes the old key with the new one, drops sessions', async () => {
    const w = world({delayMs: 1200})
    const result = await rotateProfile(w.deps(), 'dev')
    assert.deepEqual([...w.iam.keys.keys()], ['AKIAAVCANARY0000NEW1'])
    assert.deepEqual(w.stored(), {
      v: 1,
      accessKeyId: 'AKIAAVCANARY0000NEW1',
      secretAccessKey: 'avCanarySecret/new1',
      keyCreated: new Date(1_000_000).toISOString(),
      restore: RECORD,
      rotated: {at: new Date(1_000_000).toISOString(), from: OLD.accessKeyId},
      storedAt: new Date(1_000_000).toISOString(),
    })
    assert.deepEqual([...w.store.items.keys()], [profileAccount('dev')])
    assert.deepEqual(w.steps, ['list', 'journal', 'create', 'store', 'verify', 'delete', 'sessions'])
    assert.equal(w.iam.calls.at(-1), `DeleteAccessKey ${OLD.accessKeyId} by AKIAAVCANARY0000NEW1`)
    assert.deepEqual(
      [result.oldAccessKeyId, result.newAccessKeyId, result.resumed],
      [OLD.accessKeyId, 'AKIAAVCANARY0000NEW1', false],
    )
    assert.ok(result.verifyAttempts >= 2, 'the new key was refused at first and retried')
    assert.deepEqual(
      w.audit.map((e) => e.step),
      w.steps,
    )
    assert.ok(!JSON.stringify(w.audit).includes('avCanarySecret'))
  })

  it('stops and changes nothing when the IAM user already has two keys', async () => {
    const w = world()
    w.iam.keys.set('AKIAAVCANARY0000OTH1', {created: 5, secret: 's', validFrom: 0})
    const before = new Map(w.store.items)
    await assert.rejects(
      rotateProfile(w.deps(), 'dev'),
      (e: AvError) => e.code === 'refused' && /already has two access keys.*Nothing was changed/.test(e.message),
    )
    assert.deepEqual(w.store.items, before)
    assert.equal(w.iam.keys.size, 2)
    assert.ok(!w.iam.calls.some((c) => c.startsWith('Create')))
  })

  it('a new key that never works keeps the old key and the journal; a later run finishes', async () => {
    const w = world({delayMs: 10 * 60_000, verifyTimeoutMs: 30_000})
    await assert.rejects(rotateProfile(w.deps(), 'dev'), /does not work yet.*old key was kept/)
    assert.equal(w.iam.keys.size, 2)
    assert.ok(w.store.items.has(journalAccount('dev')))
    w.clock.advance(10 * 60_000)
    const result = await rotateProfile(w.deps(), 'dev')
    assert.equal(result.resumed, true)
    assert.deepEqual([...w.iam.keys.keys()], [result.newAccessKeyId])
  })

  const kills: Array<[string, RotateStep | 'create-answer']> = [
    ['after the journal, before CreateAccessKey', 'journal'],
    ['after CreateAccessKey, before the journal holds the new key', 'create-answer'],
    ['after the new key is journalled', 'create'],
    ['after the new key is stored', 'store'],
    ['after it was verified', 'verify'],
    ['after the old key was deleted', 'delete'],
  ]
  for (const [when, step] of kills) {
    it(`killed ${when}: a re-run converges on one working key, stored, and no journal`, async () => {
      const w = world({delayMs: 700})
      if (step === 'create-answer') w.iam.killAfterCreate = true
      await assert.rejects(
        rotateProfile(w.deps(step === 'create-answer' ? undefined : step), 'dev'),
        (e: AvError) => e instanceof Killed || e.cause instanceof Killed,
      )
      // Never the only working key gone: the stored key, or the journal's, still works.
      const stored = w.stored() as {accessKeyId: string; secretAccessKey: string}
      assert.ok(w.iam.works({credentials: stored}) || w.iam.keys.has(OLD.accessKeyId))
      w.iam.killAfterCreate = false
      w.clock.advance(1000)
      const result = await rotateProfile(w.deps(null as unknown as RotateStep), 'dev')
      const now = w.stored() as {accessKeyId: string; secretAccessKey: string}
      assert.deepEqual([...w.iam.keys.keys()], [now.accessKeyId])
      assert.notEqual(now.accessKeyId, OLD.accessKeyId)
      assert.ok(w.iam.works({credentials: now}))
      assert.equal(result.newAccessKeyId, now.accessKeyId)
      assert.deepEqual([...w.store.items.keys()], [profileAccount('dev')])
    })
  }

  it('refuses a temporary stored pair and a profile av does not hold', async () => {
    const w = world()
    await assert.rejects(rotateProfile(w.deps(), 'prod'), (e: AvError) => e.code === 'not-found')
    w.store.items.set(profileAccount('dev'), encodeKeyPair({...OLD, sessionToken: 't'}))
    await assert.rejects(rotateProfile(w.deps(), 'dev'), (e: AvError) => e.code === 'bad-input')
  })
})

describe('iamEndpointOf and the policy’s iam key', () => {
  const cases: Array<[string, string | undefined, Record<string, unknown>, string, string]> = [
    ['genuine, no region', undefined, {}, 'https://iam.amazonaws.com', 'us-east-1'],
    ['genuine, a region', 'eu-west-1', {}, 'https://iam.amazonaws.com', 'us-east-1'],
    ['China', 'cn-north-1', {}, 'https://iam.cn-north-1.amazonaws.com.cn', 'cn-north-1'],
    ['GovCloud', 'us-gov-west-1', {}, 'https://iam.us-gov.amazonaws.com', 'us-gov-west-1'],
    ['the root policy', 'eu-west-1', {iam: {endpoint: 'http://127.0.0.1:8443'}}, 'http://127.0.0.1:8443', 'us-east-1'],
  ]
  for (const [name, region, policy, endpoint, signing] of cases) {
    it(name, () => {
      assert.deepEqual(iamEndpointOf(region, policy), {endpoint, region: signing})
    })
  }

  const docs: Array<[unknown, boolean]> = [
    [{iam: {endpoint: 'http://127.0.0.1:8443'}}, true],
    [{iam: {}}, true],
    [{iam: {endpoint: 'file:///etc/passwd'}}, false],
    [{iam: {endpoint: 42}}, false],
    [{iam: 'x'}, false],
  ]
  for (const [doc, ok] of docs) {
    it(`validatePolicy ${JSON.stringify(doc)} → ${ok ? 'ok' : 'problem'}`, () => {
      assert.equal(validatePolicy(doc).problems.length === 0, ok)
    })
  }
})

describe('rotateInCustody (the user side)', () => {
  const root = [
    'av custody: step dev list: IAM lists 1 key(s) for the user\nav custody: st',
    'ep dev journal: journal written\n',
    'av custody: step dev create: created AKIAAVCANARY0000NEW1 (journalled)\n',
  ]
  const cases: Array<[string, number, string, RegExp | null]> = [
    ['root rotated', 0, '', null],
    [
      'root refused (two keys)',
      126,
      'av custody: failed (refused): the IAM user of dev already has two access keys\n',
      /already has two access keys/,
    ],
    [
      'no terminal for the password',
      1,
      'sudo: a terminal is required to read the password\n',
      /needs your password, and there is no terminal/,
    ],
  ]
  for (const [name, code, last, error] of cases) {
    it(`${name}: every step line once, in order, then ${error ? 'the error' : 'the results'}`, async () => {
      const {rotateInCustody} = await import('../../../src/lib/custody/custody-client.js')
      const steps: string[] = []
      const calls: string[][] = []
      const call = async (
        entry: string,
        args: string[],
        _input: string,
        options: {onStderr?: (t: string) => void} = {},
      ) => {
        calls.push([entry, ...args])
        for (const chunk of [...root, last]) options.onStderr?.(chunk)
        const stdout = code === 0 ? JSON.stringify({results: [{profile: 'dev'}]}) + '\n' : ''
        return {code, stderr: root.join('') + last, stdout}
      }

      const run = rotateInCustody(
        '/bin/sh',
        ['dev'],
        (s) => steps.push(`${s.profile} ${s.step}`),
        call,
        () => '/bin/sh-auth',
      )
      if (error) await assert.rejects(run, error)
      else assert.deepEqual(await run, [{profile: 'dev'}])
      assert.deepEqual(steps, ['dev list', 'dev journal', 'dev create'])
      assert.deepEqual(calls, [['/bin/sh-auth', 'rotate', 'dev']])
    })
  }
})
