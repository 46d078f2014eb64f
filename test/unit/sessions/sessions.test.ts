/* eslint-disable camelcase -- AWS config keys are snake_case */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import type {AuditEvent} from '../../../src/lib/audit/audit.js'
import type {AssumeRoleInput, GetSessionTokenInput} from '../../../src/lib/aws/sts-client.js'
import type {Policy} from '../../../src/lib/core/policy.js'
import type {SessionDeps} from '../../../src/lib/sessions/session-types.js'

import {AvError} from '../../../src/lib/core/errors.js'
import {DEFAULT_POLICY, validatePolicy} from '../../../src/lib/core/policy.js'
import {isMfaSession, sessionModeOf, stsEndpointOf} from '../../../src/lib/sessions/session-settings.js'
import {
  type AwsProfiles,
  clearSessions,
  credentialProcessDocument,
  getSessionCredentials,
} from '../../../src/lib/sessions/sessions.js'
import {encodeKeyPair, profileAccount} from '../../../src/lib/store/credentials.js'
import {FakeClock, FakeSts, sdkError} from '../../fakes/fake-sts.js'
import {MemoryStore} from '../../fakes/memory-store.js'

const DURABLE = {accessKeyId: 'AKIAAVCANARY00000001', secretAccessKey: 'avCanarySecret/durable/0000000000000001'}
const ROTATED = {accessKeyId: 'AKIAAVCANARY00000002', secretAccessKey: 'avCanarySecret/durable/0000000000000002'}
const T0 = Date.parse('2026-11-28T12:00:00Z')
const MIN = 60_000

function policyWith(extra: Partial<Policy> = {}): Policy {
  return {...DEFAULT_POLICY, approvers: [], decisions: {}, endpoints: [], ...extra}
}

async function world(profiles?: AwsProfiles, policy: Policy = policyWith(), stored = ['dev']) {
  const store = new MemoryStore()
  for (const p of stored) store.items.set(profileAccount(p), encodeKeyPair(DURABLE))
  const clock = new FakeClock(T0)
  const sts = new FakeSts(clock)
  let stsLoads = 0
  const codes: string[] = []
  const deps: SessionDeps = {
    clock,
    policy,
    profiles: profiles ?? {dev: {}},
    async sts() {
      stsLoads++
      return sts
    },
    store,
  }
  return {clock, codes, deps, sts, stsLoads: () => stsLoads, store}
}

function noCanary(text: string): void {
  assert.ok(!text.includes('avCanarySecret'), `durable canary leaked: ${text}`)
}

describe('session credentials: cache', () => {
  it('a miss calls GetSessionToken once with the durable key and caches the session in the store', async () => {
    const w = await world()
    const got = await getSessionCredentials('dev', w.deps)
    assert.equal(got.kind, 'session')
    assert.equal(got.cached, false)
    assert.match(got.accessKeyId, /^ASIA/)
    assert.equal(got.expiration, T0 + 3600 * 1000)
    assert.equal(w.sts.calls.length, 1)
    assert.equal(w.sts.calls[0]!.action, 'GetSessionToken')
    assert.deepEqual(w.sts.calls[0]!.target.credentials, DURABLE)
    assert.equal((w.sts.calls[0]!.input as GetSessionTokenInput).durationSeconds, 3600)
    const cached = JSON.parse(w.store.items.get('session:dev')!)
    assert.equal(cached.v, 1)
    assert.equal(cached.accessKeyId, got.accessKeyId)
    assert.equal(cached.expiration, '2026-11-28T13:00:00.000Z')
    noCanary(w.store.items.get('session:dev')!)
    noCanary(JSON.stringify(credentialProcessDocument(got)))
  })

  it('a hit with ≥ 15 min left makes no STS call and never loads the STS client', async () => {
    const w = await world()
    const first = await getSessionCredentials('dev', w.deps)
    const loads = w.stsLoads()
    w.clock.advance(45 * MIN) // exactly 15 min left
    const second = await getSessionCredentials('dev', w.deps)
    assert.equal(second.cached, true)
    assert.equal(second.accessKeyId, first.accessKeyId)
    assert.equal(second.sessionToken, first.sessionToken)
    assert.equal(w.sts.calls.length, 1)
    assert.equal(w.stsLoads(), loads)
  })

  it('refreshes once under 15 min remain', async () => {
    const w = await world()
    const first = await getSessionCredentials('dev', w.deps)
    w.clock.advance(45 * MIN + 1)
    const second = await getSessionCredentials('dev', w.deps)
    assert.equal(second.cached, false)
    assert.notEqual(second.accessKeyId, first.accessKeyId)
    assert.equal(second.expiration, w.clock.now() + 3600 * 1000)
    assert.equal(w.sts.calls.length, 2)
    assert.equal(JSON.parse(w.store.items.get('session:dev')!).accessKeyId, second.accessKeyId)
  })

  it('a failing refresh near expiry throws and never returns the stale session', async () => {
    const w = await world()
    await getSessionCredentials('dev', w.deps)
    w.clock.advance(50 * MIN)
    w.sts.failWith = sdkError('TimeoutError', 'socket timed out')
    await assert.rejects(getSessionCredentials('dev', w.deps), (error: unknown) => {
      assert.ok(error instanceof AvError)
      assert.equal(error.code, 'sts-failed')
      assert.match(
        error.message,
        /GetSessionToken for profile dev failed: https:\/\/sts\.amazonaws\.com could not be reached/,
      )
      noCanary(error.message + error.suggestion)
      return true
    })
  })

  it('a rotated durable key, a changed duration or a corrupt item is a miss', async () => {
    const w = await world()
    await getSessionCredentials('dev', w.deps)
    await w.store.set(profileAccount('dev'), encodeKeyPair(ROTATED))
    await getSessionCredentials('dev', w.deps)
    assert.deepEqual(w.sts.calls[1]!.target.credentials, ROTATED)
    w.deps.profiles.dev = {av_session_duration: '1800'}
    await getSessionCredentials('dev', w.deps)
    await w.store.set('session:dev', '{not json')
    await getSessionCredentials('dev', w.deps)
    await w.store.set('session:dev', JSON.stringify({v: 2}))
    await getSessionCredentials('dev', w.deps)
    assert.equal(w.sts.calls.length, 5)
  })

  it('a profile with no stored key is refused with a hint to migrate', async () => {
    const w = await world({dev: {}}, policyWith(), [])
    await assert.rejects(
      getSessionCredentials('dev', w.deps),
      (error: unknown) =>
        error instanceof AvError && error.code === 'not-found' && /av migrate/.test(error.suggestion!),
    )
    assert.equal(w.sts.calls.length, 0)
  })

  it('session clear drops session and role items, keeps durable keys, and records it', async () => {
    const w = await world({dev: {}, ops: {}}, policyWith(), ['dev', 'ops'])
    await getSessionCredentials('dev', w.deps)
    await getSessionCredentials('ops', w.deps)
    await w.store.set('role:admin', 'x')
    const events: AuditEvent[] = []
    const audit = {
      async record(e: AuditEvent) {
        events.push(e)
      },
    }
    assert.deepEqual(await clearSessions({audit, store: w.store}, 'dev'), {cleared: ['session:dev']})
    assert.deepEqual(await clearSessions({audit, store: w.store}), {cleared: ['role:admin', 'session:ops']})
    assert.deepEqual([...w.store.items.keys()].sort(), ['aws:dev', 'aws:ops'])
    assert.deepEqual(
      events.map((e) => [e.event, e.profile]),
      [
        ['session-clear', 'dev'],
        ['session-clear', null],
      ],
    )
    await getSessionCredentials('dev', w.deps)
    assert.equal(w.sts.calls.length, 3)
  })
})

describe('session credentials: duration', () => {
  const table: Array<[string, string | undefined, number | undefined, number | RegExp]> = [
    ['default', undefined, undefined, 3600],
    ['minimum', '900', undefined, 900],
    ['maximum', '43200', undefined, 43200],
    ['below 15 min', '899', undefined, /not a whole number of seconds from 900 to 43200/],
    ['above 12 h', '43201', undefined, /not a whole number/],
    ['not a number', '1h', undefined, /not a whole number/],
    ['user longer than the policy cap is capped', '7200', 1800, 1800],
    ['default longer than the cap is capped', undefined, 1800, 1800],
    ['user shorter than the cap is kept', '1000', 1800, 1000],
    ['a cap below the STS minimum still asks 900', undefined, 60, 900],
  ]
  for (const [name, setting, cap, expected] of table) {
    it(name, async () => {
      const policy = policyWith(cap === undefined ? {} : {sessions: {maxDurationSeconds: cap}})
      const w = await world({dev: setting === undefined ? {} : {av_session_duration: setting}}, policy)
      if (typeof expected === 'number') {
        const got = await getSessionCredentials('dev', w.deps)
        assert.equal((w.sts.calls[0]!.input as GetSessionTokenInput).durationSeconds, expected)
        assert.equal(got.expiration, T0 + expected * 1000)
      } else {
        await assert.rejects(getSessionCredentials('dev', w.deps), (error: unknown) => {
          assert.ok(error instanceof AvError)
          assert.equal(error.code, 'bad-input')
          assert.match(error.message, expected)
          return true
        })
        assert.equal(w.sts.calls.length, 0)
      }
    })
  }
})

describe('session credentials: STS endpoint', () => {
  const hostile = {
    endpoint_url: 'http://127.0.0.1:9/evil',
    services: 'evil',
    sts_regional_endpoints: 'legacy',
  }
  const table: Array<[string, Record<string, string>, Policy, string, string]> = [
    ['no region: global', hostile, policyWith(), 'https://sts.amazonaws.com', 'us-east-1'],
    [
      'profile region: regional',
      {...hostile, region: 'eu-west-1'},
      policyWith(),
      'https://sts.eu-west-1.amazonaws.com',
      'eu-west-1',
    ],
    ['China region', {region: 'cn-north-1'}, policyWith(), 'https://sts.cn-north-1.amazonaws.com.cn', 'cn-north-1'],
    [
      'root policy endpoint',
      {...hostile, region: 'eu-west-1'},
      policyWith({sts: {endpoint: 'http://127.0.0.1:8443'}}),
      'http://127.0.0.1:8443',
      'eu-west-1',
    ],
  ]
  for (const [name, settings, policy, endpoint, region] of table) {
    it(`${name}; the user's endpoint settings are ignored`, async () => {
      const w = await world({dev: settings}, policy)
      await getSessionCredentials('dev', w.deps)
      assert.equal(w.sts.calls[0]!.target.endpoint, endpoint)
      assert.equal(w.sts.calls[0]!.target.region, region)
    })
  }

  for (const region of ['evil.example.com/x', 'us-east-1.evil.com', 'us-east-1@evil']) {
    it(`region ${region} cannot steer the host`, async () => {
      const w = await world({dev: {region}})
      await assert.rejects(getSessionCredentials('dev', w.deps), /is not an AWS region name/)
      assert.equal(w.sts.calls.length, 0)
    })
  }

  it('an empty region is the global endpoint', () => {
    assert.equal(stsEndpointOf('', policyWith()).endpoint, 'https://sts.amazonaws.com')
  })
})

describe('session credentials: MFA', () => {
  const serial = 'arn:aws:iam::123456789012:mfa/dev'

  it('asks the code through the injected prompt once, sends it, and caches the MFA session', async () => {
    const w = await world({dev: {mfa_serial: serial}})
    const asked: string[] = []
    w.deps.askCode = async (request) => {
      asked.push(`${request.profile} ${request.mfaSerial}`)
      return '123456\n'
    }

    const got = await getSessionCredentials('dev', w.deps)
    assert.equal(got.kind, 'session')
    assert.deepEqual((w.sts.calls[0]!.input as GetSessionTokenInput).mfa, {serialNumber: serial, tokenCode: '123456'})
    w.clock.advance(30 * MIN)
    assert.equal((await getSessionCredentials('dev', w.deps)).cached, true)
    assert.deepEqual(asked, [`dev ${serial}`])
  })

  it('a non-MFA cached session is not reused once mfa_serial is set', async () => {
    const w = await world({dev: {}})
    await getSessionCredentials('dev', w.deps)
    w.deps.profiles.dev = {mfa_serial: serial}
    w.deps.askCode = async () => '654321'
    await getSessionCredentials('dev', w.deps)
    assert.equal(w.sts.calls.length, 2)
    assert.equal((w.sts.calls[1]!.input as GetSessionTokenInput).mfa?.tokenCode, '654321')
  })

  it('no channel is a clear refusal; a code that is not 6 digits too; STS is not called', async () => {
    const w = await world({dev: {mfa_serial: serial}})
    await assert.rejects(getSessionCredentials('dev', w.deps), (error: unknown) => {
      assert.ok(error instanceof AvError)
      assert.equal(error.code, 'refused')
      assert.equal(error.exit, 126)
      assert.match(error.message, /needs an MFA code/)
      return true
    })
    w.deps.askCode = async () => '12345x'
    await assert.rejects(getSessionCredentials('dev', w.deps), /is not 6 digits/)
    assert.equal(w.sts.calls.length, 0)
  })
})

describe('session credentials: roles', () => {
  const chain: AwsProfiles = {
    base: {region: 'eu-west-1'},
    mid: {role_arn: 'arn:aws:iam::111111111111:role/mid', source_profile: 'base'},
    top: {
      duration_seconds: '7200',
      external_id: 'ext-42',
      role_arn: 'arn:aws:iam::222222222222:role/top',
      role_session_name: 'alice',
      source_profile: 'mid',
    },
  }

  it('a two-hop chain: session of the migrated source, then AssumeRole twice, each hop cached', async () => {
    const w = await world(structuredClone(chain), policyWith(), ['base'])
    const got = await getSessionCredentials('top', w.deps)
    assert.equal(got.kind, 'role')
    assert.deepEqual(
      w.sts.calls.map((c) => c.action),
      ['GetSessionToken', 'AssumeRole', 'AssumeRole'],
    )
    const [session, mid, top] = w.sts.calls
    assert.deepEqual(session!.target.credentials, DURABLE)
    assert.equal(session!.target.endpoint, 'https://sts.eu-west-1.amazonaws.com')
    assert.equal(mid!.target.credentials.accessKeyId, 'ASIAAVCANARYSESS0001')
    assert.equal(mid!.target.credentials.sessionToken, 'avCanarySessionToken/GetSessionToken/0001')
    const midInput = mid!.input as AssumeRoleInput
    assert.equal(midInput.roleArn, 'arn:aws:iam::111111111111:role/mid')
    assert.match(midInput.roleSessionName, /^av-mid-\d+$/)
    assert.equal(midInput.durationSeconds, 3600)
    assert.equal(top!.target.credentials.accessKeyId, 'ASIAAVCANARYSESS0002')
    assert.deepEqual(top!.input, {
      durationSeconds: 3600, // role chaining is limited to 1 h by AWS: 7200 is capped
      externalId: 'ext-42',
      roleArn: 'arn:aws:iam::222222222222:role/top',
      roleSessionName: 'alice',
    })
    assert.equal(got.accessKeyId, 'ASIAAVCANARYSESS0003')
    assert.deepEqual([...w.store.items.keys()].sort(), ['aws:base', 'role:mid', 'role:top', 'session:base'])
    w.clock.advance(40 * MIN)
    const again = await getSessionCredentials('top', w.deps)
    assert.equal(again.cached, true)
    assert.equal(w.sts.calls.length, 3)
  })

  it('a cycle is refused with the chain named and no STS call', async () => {
    const w = await world({
      a: {role_arn: 'arn:aws:iam::1:role/a', source_profile: 'b'},
      b: {role_arn: 'arn:aws:iam::1:role/b', source_profile: 'c'},
      c: {role_arn: 'arn:aws:iam::1:role/c', source_profile: 'a'},
    })
    await assert.rejects(getSessionCredentials('a', w.deps), /role profiles form a cycle: a → b → c → a/)
    assert.equal(w.sts.calls.length, 0)
  })

  it('a role profile that is its own source uses its own stored key', async () => {
    const w = await world({self: {role_arn: 'arn:aws:iam::1:role/s', source_profile: 'self'}}, policyWith(), ['self'])
    const got = await getSessionCredentials('self', w.deps)
    assert.equal(got.kind, 'role')
    assert.deepEqual(
      w.sts.calls.map((c) => c.action),
      ['GetSessionToken', 'AssumeRole'],
    )
  })

  it('mfa_serial on the role profile makes the source session an MFA session (code asked once)', async () => {
    const profiles = structuredClone(chain)
    profiles.mid!.mfa_serial = 'arn:aws:iam::1:mfa/alice'
    const w = await world(profiles, policyWith(), ['base'])
    let asked = 0
    w.deps.askCode = async () => {
      asked++
      return '111222'
    }

    await getSessionCredentials('top', w.deps)
    assert.equal(asked, 1)
    assert.equal((w.sts.calls[0]!.input as GetSessionTokenInput).mfa?.tokenCode, '111222')
    assert.equal((w.sts.calls[1]!.input as AssumeRoleInput).mfa, undefined)
  })

  it('credential_source or a missing source_profile is refused clearly', async () => {
    const w = await world({r: {credential_source: 'Ec2InstanceMetadata', role_arn: 'arn:aws:iam::1:role/r'}})
    await assert.rejects(getSessionCredentials('r', w.deps), /credential_source is not supported/)
  })

  it('a denied AssumeRole names the role and the profile', async () => {
    const w = await world(structuredClone(chain), policyWith(), ['base'])
    w.sts.failWith = undefined
    await getSessionCredentials('base', w.deps)
    w.sts.failWith = sdkError(
      'AccessDenied',
      'User: arn:aws:sts::1:assumed-role is not authorized to perform: sts:AssumeRole',
    )
    await assert.rejects(getSessionCredentials('mid', w.deps), (error: unknown) => {
      assert.ok(error instanceof AvError)
      assert.match(
        error.message,
        /STS AssumeRole \(arn:aws:iam::111111111111:role\/mid\) for profile mid failed: access denied/,
      )
      return true
    })
  })
})

describe('session credentials: opt-out and elevated runs', () => {
  it('av_session = off is ignored unless the root policy allows opt-out', async () => {
    const w = await world({dev: {av_session: 'off'}})
    assert.equal((await getSessionCredentials('dev', w.deps)).kind, 'session')
    assert.deepEqual(sessionModeOf('dev', w.deps.profiles, w.deps.policy), {
      durationSeconds: 3600,
      mfa: false,
      mode: 'session',
      optOutIgnored: true,
    })
    w.deps.policy = policyWith({sessions: {allowOptOut: true}})
    const got = await getSessionCredentials('dev', w.deps)
    assert.deepEqual(got, {...DURABLE, cached: false, kind: 'durable'})
    assert.equal(w.sts.calls.length, 1)
    assert.equal(sessionModeOf('dev', w.deps.profiles, w.deps.policy).mode, 'durable')
  })

  it('an elevated run gets the durable key without an STS call; a role profile still gets the role', async () => {
    const w = await world({
      dev: {},
      role: {role_arn: 'arn:aws:iam::1:role/r', source_profile: 'dev'},
    })
    const got = await getSessionCredentials('dev', w.deps, {elevated: true})
    assert.deepEqual(credentialProcessDocument(got), {
      Version: 1,
      AccessKeyId: DURABLE.accessKeyId,
      SecretAccessKey: DURABLE.secretAccessKey,
    })
    assert.equal(w.sts.calls.length, 0)
    assert.equal((await getSessionCredentials('role', w.deps, {elevated: true})).kind, 'role')
  })

  it('sessionModeOf reports a setting the helper would refuse instead of throwing', () => {
    assert.deepEqual(sessionModeOf('d', {d: {av_session_duration: '10'}}, policyWith()), {
      mode: 'invalid',
      problem: 'av_session_duration = "10" in profile d is not a whole number of seconds from 900 to 43200',
    })
  })

  it('sessionModeOf describes role and MFA profiles', () => {
    const profiles = {
      m: {mfa_serial: 'arn:x', av_session_duration: '1800'},
      r: {role_arn: 'arn:r', source_profile: 'm'},
    }
    assert.deepEqual(sessionModeOf('m', profiles, policyWith()), {
      durationSeconds: 1800,
      mfa: true,
      mode: 'session',
      optOutIgnored: false,
    })
    assert.deepEqual(sessionModeOf('r', profiles, policyWith()), {
      durationSeconds: 3600,
      mode: 'role',
      roleArn: 'arn:r',
      source: 'm',
    })
  })
})

describe('isMfaSession: is the session av releases for the profile one obtained with MFA?', () => {
  const profiles: AwsProfiles = {
    mfa: {mfa_serial: 'arn:aws:iam::1:mfa/me'},
    plain: {region: 'eu-west-1'},
    empty: {mfa_serial: ''},
    role: {mfa_serial: 'arn:aws:iam::1:mfa/me', role_arn: 'arn:aws:iam::1:role/r', source_profile: 'mfa'},
    optout: {av_session: 'off', mfa_serial: 'arn:aws:iam::1:mfa/me'},
    invalid: {av_session_duration: '10', mfa_serial: 'arn:aws:iam::1:mfa/me'},
  }
  const cases: Array<[string, Policy, boolean]> = [
    ['mfa', policyWith(), true],
    ['plain', policyWith(), false],
    ['empty', policyWith(), false],
    ['missing', policyWith(), false],
    // Role credentials are not a GetSessionToken session (and can call IAM by themselves anyway).
    ['role', policyWith(), false],
    // The opt-out the policy allows releases the durable key; ignored without the policy, the MFA session stays.
    ['optout', policyWith({sessions: {allowOptOut: true}}), false],
    ['optout', policyWith(), true],
    // A setting the helper refuses: no session at all.
    ['invalid', policyWith(), false],
  ]
  for (const [profile, policy, expected] of cases) {
    it(`${profile}${policy.sessions?.allowOptOut ? ' (opt-out allowed)' : ''} → ${expected}`, () => {
      assert.equal(isMfaSession(profile, profiles, policy), expected)
    })
  }
})

describe('session credentials: STS errors', () => {
  const table: Array<[string, Error, RegExp, RegExp]> = [
    [
      'refused connection',
      Object.assign(new Error('connect ECONNREFUSED'), {code: 'ECONNREFUSED'}),
      /could not be reached \(ECONNREFUSED\)/,
      /network/,
    ],
    [
      'unknown host',
      Object.assign(new Error('getaddrinfo'), {code: 'ENOTFOUND'}),
      /could not be reached \(ENOTFOUND\)/,
      /network/,
    ],
    ['throttling', sdkError('Throttling', 'Rate exceeded'), /throttled the request \(Throttling\)/, /Wait a minute/],
    ['invalid key', sdkError('InvalidClientTokenId'), /does not recognise the stored access key/, /new access key/],
    ['bad secret', sdkError('SignatureDoesNotMatch'), /does not match its access key id/, /av migrate/],
    ['expired token', sdkError('ExpiredToken'), /have expired \(ExpiredToken\)/, /av session clear` and try again/],
    [
      'other error with a key id in its text',
      sdkError('InternalFailure', 'key AKIAAVCANARY00000001 broke', {$metadata: {httpStatusCode: 500}}),
      /InternalFailure \(HTTP 500\): key <access key id> broke/,
      /again/,
    ],
  ]
  for (const [name, error, message, suggestion] of table) {
    it(name, async () => {
      const w = await world()
      w.sts.failWith = error
      await assert.rejects(getSessionCredentials('dev', w.deps), (thrown: unknown) => {
        assert.ok(thrown instanceof AvError)
        assert.equal(thrown.code, 'sts-failed')
        assert.equal(thrown.exit, 125)
        assert.match(thrown.message, message)
        assert.match(thrown.suggestion!, suggestion)
        noCanary(thrown.message + thrown.suggestion)
        assert.ok(!thrown.message.includes(DURABLE.accessKeyId))
        return true
      })
      assert.equal(w.store.items.has('session:dev'), false)
    })
  }
})

describe('credential_process document', () => {
  it('has Version 1, the token and an RFC 3339 UTC expiration without milliseconds', () => {
    const doc = credentialProcessDocument({
      accessKeyId: 'ASIAAVCANARYSESS0001',
      cached: true,
      expiration: Date.parse('2026-11-28T13:00:00.123Z'),
      kind: 'session',
      secretAccessKey: 's',
      sessionToken: 't',
    })
    assert.equal(
      JSON.stringify(doc),
      '{"Version":1,"AccessKeyId":"ASIAAVCANARYSESS0001","SecretAccessKey":"s","SessionToken":"t","Expiration":"2026-11-28T13:00:00Z"}',
    )
  })
})

describe('policy: sessions', () => {
  it('accepts allowOptOut as a boolean only', () => {
    assert.deepEqual(validatePolicy({sessions: {allowOptOut: true, maxDurationSeconds: 1800}}).policy?.sessions, {
      allowOptOut: true,
      maxDurationSeconds: 1800,
    })
    assert.deepEqual(validatePolicy({sessions: {allowOptOut: 'yes'}}).problems, [
      'sessions.allowOptOut must be true or false',
    ])
  })
})
