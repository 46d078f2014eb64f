import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import type {Policy} from '../../../src/lib/core/policy.js'
import type {LoginRefresh} from '../../../src/lib/sessions/login-session.js'
import type {SessionDeps} from '../../../src/lib/sessions/session-types.js'

import {parseAwsConfig, parseAwsProfiles} from '../../../src/lib/aws/aws-profiles.js'
import {AvError, EXIT} from '../../../src/lib/core/errors.js'
import {DEFAULT_POLICY, validatePolicy} from '../../../src/lib/core/policy.js'
import {decodeLoginItem, encodeLoginItem} from '../../../src/lib/sessions/login-session.js'
import {credentialProcessDocument, getSessionCredentials} from '../../../src/lib/sessions/sessions.js'
import {ssoEndpointsOf, ssoTargetOf} from '../../../src/lib/sessions/sso-settings.js'
import {decodeSsoItem, encodeSsoItem, fromCliCache, signIn} from '../../../src/lib/sessions/sso-tokens.js'
import {FakeSso} from '../../fakes/fake-sso.js'
import {FakeClock, FakeSts} from '../../fakes/fake-sts.js'
import {MemoryStore} from '../../fakes/memory-store.js'

const T0 = Date.parse('2026-12-05T12:00:00Z')
const MIN = 60_000
const START = 'https://corp.awsapps.com/start'
const CONFIG = `[profile dev]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = Dev
region = eu-west-1

[profile legacy]
sso_start_url = https://old.awsapps.com/start
sso_region = us-east-1
sso_account_id = 111122223333
sso_role_name = ReadOnly

[profile admin]
role_arn = arn:aws:iam::444455556666:role/Admin
source_profile = dev

[profile norole]
sso_session = corp

[sso-session corp]
sso_start_url = ${START}
sso_region = eu-central-1
sso_registration_scopes = sso:account:access
`

function policyWith(extra: Partial<Policy> = {}): Policy {
  return {...DEFAULT_POLICY, approvers: [], decisions: {}, endpoints: [], ...extra}
}

function world(policy: Policy = policyWith()) {
  const clock = new FakeClock(T0)
  const store = new MemoryStore()
  const sso = new FakeSso(clock)
  const sts = new FakeSts(clock)
  let ssoLoads = 0
  const deps: SessionDeps = {
    clock,
    policy,
    profiles: parseAwsProfiles(CONFIG),
    async sso() {
      ssoLoads++
      return sso
    },
    ssoSessions: parseAwsConfig(CONFIG).ssoSessions,
    store,
    sts: async () => sts,
  }
  const target = ssoTargetOf('dev', deps.profiles, deps.ssoSessions!, policy)!
  const signInDeps = {clock, show() {}, async sleep() {}, sso: async () => sso, store}
  return {clock, deps, signIn: () => signIn(target, signInDeps), sso, ssoLoads: () => ssoLoads, store, sts, target}
}

async function refusalOf(promise: Promise<unknown>): Promise<AvError> {
  try {
    await promise
  } catch (error) {
    assert.ok(error instanceof AvError, String(error))
    return error
  }

  assert.fail('expected a refusal')
}

function noToken(text: string): void {
  assert.ok(!text.includes('avCanarySecret'), `a token leaked: ${text}`)
}

describe('IAM Identity Center settings', () => {
  it('a session profile takes the start URL, region and scopes from its [sso-session]', () => {
    const w = world()
    assert.equal(w.target.key, 'corp')
    assert.equal(w.target.startUrl, START)
    assert.deepEqual(w.target.scopes, ['sso:account:access'])
    assert.deepEqual(w.target.endpoints, {
      oidc: 'https://oidc.eu-central-1.amazonaws.com',
      portal: 'https://portal.sso.eu-central-1.amazonaws.com',
      region: 'eu-central-1',
    })
    assert.equal(w.target.accountId, '111122223333')
    assert.equal(w.target.roleName, 'Dev')
  })

  it('a legacy profile is keyed by its start URL; a plain profile is not an SSO profile', () => {
    const profiles = parseAwsProfiles(CONFIG)
    const legacy = ssoTargetOf('legacy', profiles, parseAwsConfig(CONFIG).ssoSessions, policyWith())!
    assert.equal(legacy.key, 'https://old.awsapps.com/start')
    assert.equal(legacy.session, null)
    assert.equal(ssoTargetOf('admin', profiles, parseAwsConfig(CONFIG).ssoSessions, policyWith()), null)
  })

  it('only the root policy moves the endpoints; a bad region or a missing section is config-invalid', () => {
    const policy = validatePolicy({sso: {oidcEndpoint: 'http://127.0.0.1:1', portalEndpoint: 'http://127.0.0.1:2'}})
    assert.deepEqual(policy.problems, [])
    assert.equal(ssoEndpointsOf('eu-west-1', policy.policy!).oidc, 'http://127.0.0.1:1')
    assert.equal(ssoEndpointsOf('cn-north-1', policyWith()).portal, 'https://portal.sso.cn-north-1.amazonaws.com.cn')
    assert.ok(validatePolicy({sso: {oidcEndpoint: 'file:///x'}}).problems.length > 0)
    assert.throws(() => ssoEndpointsOf('evil.example.com/', policyWith()), /not an AWS region/)
    const profiles = parseAwsProfiles('[profile x]\nsso_session = gone\n')
    assert.throws(
      () => ssoTargetOf('x', profiles, {}, policyWith()),
      (e: AvError) => e.reason === 'config-invalid',
    )
  })
})

describe('IAM Identity Center role credentials', () => {
  it('with no sign-in the helper refuses (126, sso-login-needed) and names `av login`', async () => {
    const w = world()
    const error = await refusalOf(getSessionCredentials('dev', w.deps))
    assert.equal(error.reason, 'sso-login-needed')
    assert.equal(error.exit, EXIT.refused)
    assert.match(error.suggestion ?? '', /av login --sso-session corp/)
    assert.equal(w.sso.count('GetRoleCredentials'), 0)
  })

  it('after sign-in: GetRoleCredentials with av’s access token, cached as role:<profile>, reused without a call', async () => {
    const w = world()
    await w.signIn()
    const got = await getSessionCredentials('dev', w.deps)
    assert.equal(got.kind, 'role')
    assert.equal(got.cached, false)
    const call = w.sso.calls.find((c) => c.operation === 'GetRoleCredentials')!
    assert.equal(call.role, '111122223333/Dev')
    assert.equal(call.accessToken, decodeSsoItem(w.store.items.get('sso:corp')!)!.token.accessToken)
    assert.ok(w.store.items.has('role:dev'))
    const again = await getSessionCredentials('dev', w.deps)
    assert.equal(again.cached, true)
    assert.equal(again.accessKeyId, got.accessKeyId)
    assert.equal(w.sso.count('GetRoleCredentials'), 1)
    assert.equal(credentialProcessDocument(again).AccessKeyId, got.accessKeyId)
  })

  it('an access token about to expire is refreshed without a person, and the new one is stored', async () => {
    const w = world()
    await w.signIn()
    const before = decodeSsoItem(w.store.items.get('sso:corp')!)!
    w.clock.advance(50 * MIN) // 10 min left: inside the refresh window
    w.store.items.delete('role:dev')
    await getSessionCredentials('dev', w.deps)
    const after = decodeSsoItem(w.store.items.get('sso:corp')!)!
    assert.notEqual(after.token.accessToken, before.token.accessToken)
    assert.notEqual(after.token.refreshToken, before.token.refreshToken)
    assert.equal(w.sso.calls.filter((c) => c.grant === 'refresh').length, 1)
    const call = w.sso.calls.findLast((c) => c.operation === 'GetRoleCredentials')!
    assert.equal(call.accessToken, after.token.accessToken)
  })

  it('a refresh token that no longer works: the old token serves while it lasts, then the refusal says sign in', async () => {
    const w = world()
    await w.signIn()
    w.sso.refreshFailsWith = 'InvalidGrantException'
    w.clock.advance(50 * MIN)
    w.store.items.delete('role:dev')
    const got = await getSessionCredentials('dev', w.deps)
    assert.equal(got.kind, 'role')
    w.clock.advance(11 * MIN) // past the access token's end
    w.store.items.delete('role:dev')
    const error = await refusalOf(getSessionCredentials('dev', w.deps))
    assert.equal(error.reason, 'sso-login-needed')
    assert.match(error.message, /InvalidGrantException/)
    noToken(`${error.message} ${error.suggestion}`)
  })

  it('a revoked access token (UnauthorizedException) asks for sign-in; a network failure is sso-failed', async () => {
    const w = world()
    await w.signIn()
    w.sso.roleFailsWith = 'UnauthorizedException'
    assert.equal((await refusalOf(getSessionCredentials('dev', w.deps))).reason, 'sso-login-needed')
    w.sso.roleFailsWith = 'ECONNREFUSED'
    const failed = await refusalOf(getSessionCredentials('dev', w.deps))
    assert.equal(failed.reason, 'sso-failed')
    assert.equal(failed.exit, EXIT.failed)
  })

  it('a token the portal no longer takes is refreshed once and the call made again, without a person', async () => {
    const w = world()
    await w.signIn()
    w.sso.roleFailsWith = 'UnauthorizedException'
    w.sso.roleFailures = 1
    const got = await getSessionCredentials('dev', w.deps)
    assert.equal(got.kind, 'role')
    assert.equal(w.sso.calls.filter((c) => c.grant === 'refresh').length, 1)
    const [first, second] = w.sso.calls.filter((c) => c.operation === 'GetRoleCredentials')
    assert.notEqual(first!.accessToken, second!.accessToken)
  })

  it('a role profile whose source is an SSO profile assumes its role with the SSO role credentials', async () => {
    const w = world()
    await w.signIn()
    const got = await getSessionCredentials('admin', w.deps)
    assert.equal(got.kind, 'role')
    const assume = w.sts.calls.find((c) => c.action === 'AssumeRole')!
    assert.match(assume.target.credentials.accessKeyId, /^ASIAAVCANARYROLE/)
  })

  it('an SSO profile without sso_account_id / sso_role_name is config-invalid, with what to set', async () => {
    const w = world()
    await w.signIn()
    const error = await refusalOf(getSessionCredentials('norole', w.deps))
    assert.equal(error.reason, 'config-invalid')
    assert.match(error.suggestion ?? '', /sso_account_id and sso_role_name/)
  })
})

describe('IAM Identity Center sign-in', () => {
  it('polls while the approval is pending, shows the code once, stores client, access and refresh token', async () => {
    const w = world()
    w.sso.pendingPolls = 2
    const shown: string[] = []
    const sleeps: number[] = []
    const result = await signIn(w.target, {
      clock: w.clock,
      show: (a) => shown.push(a.userCode),
      async sleep(ms) {
        sleeps.push(ms)
      },
      sso: async () => w.sso,
      store: w.store,
    })
    assert.deepEqual(shown, ['ABCD-EFGH'])
    assert.deepEqual(sleeps, [1000, 1000])
    assert.equal(w.sso.calls.filter((c) => c.grant === 'device').length, 3)
    assert.equal(result.refreshToken, true)
    noToken(JSON.stringify(result))
    const item = decodeSsoItem(w.store.items.get('sso:corp')!)!
    assert.equal(item.startUrl, START)
    assert.match(item.client.clientSecret, /avCanarySecret/)
    assert.ok(item.token.refreshToken)
  })

  it('a second sign-in reuses the live client registration', async () => {
    const w = world()
    await w.signIn()
    await w.signIn()
    assert.equal(w.sso.count('RegisterClient'), 1)
    assert.equal(w.sso.count('StartDeviceAuthorization'), 2)
  })

  it('a code not approved before it expires is refused with what to do', async () => {
    const w = world()
    w.sso.pendingPolls = 10_000
    const error = await refusalOf(
      signIn(w.target, {
        clock: w.clock,
        show() {},
        async sleep() {
          w.clock.advance(2 * MIN)
        },
        sso: async () => w.sso,
        store: w.store,
      }),
    )
    assert.equal(error.reason, 'sso-login-needed')
    assert.match(error.message, /expired before it was approved/)
    assert.equal(w.store.items.has('sso:corp'), false)
  })

  it('the AWS CLI’s cache document becomes an item (and back to the same token); junk is none', () => {
    const cli = JSON.stringify({
      accessToken: 'avCanarySecret/cli-access',
      clientId: 'cid',
      clientSecret: 'avCanarySecret/cli-client',
      expiresAt: '2026-12-05T13:00:00Z',
      refreshToken: 'avCanarySecret/cli-refresh',
      region: 'eu-central-1',
      registrationExpiresAt: '2027-03-01T00:00:00Z',
      startUrl: START,
    })
    const item = fromCliCache(cli)!
    assert.equal(item.token.refreshToken, 'avCanarySecret/cli-refresh')
    assert.equal(item.client.expiresAt, Date.parse('2027-03-01T00:00:00Z'))
    assert.deepEqual(decodeSsoItem(encodeSsoItem(item)), item)
    assert.equal(fromCliCache('{"startUrl": "x"}'), null)
    assert.equal(fromCliCache('not json'), null)
    assert.equal(decodeSsoItem('{"v":1,"kind":"sso"}'), null)
  })
})

const SESSION = 'arn:aws:sts::111122223333:assumed-role/Admin/alice'

function loginDocument(n: number, expiresAt: number): string {
  return JSON.stringify({
    accessToken: {
      accessKeyId: `ASIAAVCANARYLOGN000${n}`,
      accountId: '111122223333',
      expiresAt: new Date(expiresAt).toISOString(),
      secretAccessKey: `avCanarySecret/login/${n}`,
      sessionToken: `avCanarySecret/loginToken/${n}`,
    },
    clientId: 'arn:aws:signin:::devtools/same-device',
    dpopKey: 'avCanarySecret/dpop',
    refreshToken: `avCanarySecret/loginRefresh/${n}`,
  })
}

describe('console sign-in (aws login) profiles', () => {
  const LOGIN_CONFIG = `[profile console]\nlogin_session = ${SESSION}\nregion = eu-west-1\n`

  function loginWorld(refresh?: LoginRefresh) {
    const clock = new FakeClock(T0)
    const store = new MemoryStore()
    const calls: Array<{region: string; session: string}> = []
    const deps: SessionDeps = {
      clock,
      ...(refresh
        ? {
            async loginRefresh(input) {
              calls.push({region: input.region, session: input.session})
              return refresh(input)
            },
          }
        : {}),
      policy: policyWith(),
      profiles: parseAwsProfiles(LOGIN_CONFIG),
      store,
      sts: async () => new FakeSts(clock),
    }
    return {calls, clock, deps, store}
  }

  it('releases the held credentials while 5 minutes remain, without renewing', async () => {
    const w = loginWorld(async () => assert.fail('no renewal expected'))
    w.store.items.set(`login:${SESSION}`, encodeLoginItem(SESSION, loginDocument(1, T0 + 10 * MIN)))
    const got = await getSessionCredentials('console', w.deps)
    assert.deepEqual([got.kind, got.accessKeyId, got.cached], ['login', 'ASIAAVCANARYLOGN0001', true])
    assert.equal(w.calls.length, 0)
  })

  it('renews through the provider when due, stores the renewed document, releases its credentials', async () => {
    const w = loginWorld(async () => loginDocument(2, T0 + 15 * MIN))
    w.store.items.set(`login:${SESSION}`, encodeLoginItem(SESSION, loginDocument(1, T0 + 2 * MIN)))
    const got = await getSessionCredentials('console', w.deps)
    assert.deepEqual([got.accessKeyId, got.cached], ['ASIAAVCANARYLOGN0002', false])
    assert.deepEqual(w.calls, [{region: 'eu-west-1', session: SESSION}])
    assert.equal(decodeLoginItem(w.store.items.get(`login:${SESSION}`)!)!.document, loginDocument(2, T0 + 15 * MIN))
  })

  it('no sign-in held, or a renewal refused: sso-login-needed, naming aws login and av migrate, no token', async () => {
    const none = loginWorld(async () => loginDocument(2, T0 + 15 * MIN))
    const missing = await refusalOf(getSessionCredentials('console', none.deps))
    assert.equal(missing.reason, 'sso-login-needed')
    assert.match(missing.suggestion ?? '', /aws login --profile console.*av migrate --profile console/)
    const refused = loginWorld(async () => {
      throw Object.assign(new Error('TOKEN_EXPIRED avCanarySecret'), {name: 'CredentialsProviderError'})
    })
    refused.store.items.set(`login:${SESSION}`, encodeLoginItem(SESSION, loginDocument(1, T0 + MIN)))
    const error = await refusalOf(getSessionCredentials('console', refused.deps))
    assert.equal(error.reason, 'sso-login-needed')
    assert.match(error.message, /renewing it was refused \(CredentialsProviderError\)/)
    noToken(`${error.message} ${error.suggestion}`)
  })
})
