import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {describe, it} from 'node:test'

import {DEFAULT_POLICY} from '../../../src/lib/core/policy.js'
import {type CustodyCall, CustodyClientStore} from '../../../src/lib/custody/custody-client.js'
import {readStatus} from '../../../src/lib/inspect/status.js'
import {encodeSsoItem} from '../../../src/lib/sessions/sso-tokens.js'
import {SEALED} from '../../../src/lib/store/custody-keys.js'
import {MemoryFs} from '../../fakes/memory-fs.js'
import {MemoryStore} from '../../fakes/memory-store.js'

const CRED = '/h/.aws/credentials'
const CONF = '/h/.aws/config'
const AV = '/opt/av/bin/run.js'
const runsAv = (p: string) => `credential_process = ${AV} credential-helper aws --profile ${p}\n`
const ENTRY = '/opt/av/libexec/av-custody'
const NOW = Date.parse('2026-12-01T00:00:00Z')
const sha1 = (text: string) => createHash('sha1').update(text).digest('hex')
const keyItem = (n: number) =>
  JSON.stringify({accessKeyId: `AKIAAVCANARY0000000${n}`, secretAccessKey: `avCanarySecret${n}`, v: 1})

const leftover = (p: string) =>
  `the durable key of ${p} is still in your OS keychain, which every program you run can read; \`av migrate\` moves it into root custody`

/** `sudo -n <entry> <verb>` answered by a fake root: `view` lists `accounts` (durable ones sealed); `fail` exits 1. */
function fakeCustody(accounts: string[], options: {fail?: boolean} = {}) {
  const calls: string[][] = []
  const call = async (_entry: string, args: string[]): Promise<CustodyCall> => {
    calls.push(args)
    if (options.fail || args[0] !== 'view') {
      return {code: 1, stderr: 'sudo: a password is required\n', stdout: ''}
    }

    const sealed = Object.fromEntries(
      accounts
        .filter((a) => a.startsWith('aws:'))
        .map((a) => [a, JSON.stringify({accessKeyId: SEALED, secretAccessKey: SEALED, v: 1})]),
    )
    return {code: 0, stderr: '', stdout: JSON.stringify({accounts, sealed}) + '\n'}
  }

  return {calls, store: new CustodyClientStore(ENTRY, call)}
}

/** The user's keychain in custody mode: status may list it, never read a value from it. */
class ListOnlyStore extends MemoryStore {
  override async get(account: string): Promise<null | string> {
    throw new Error(`status read ${account} from the keychain`)
  }
}

describe('av status', () => {
  it('names each profile’s source, whether config runs av, and the leaks', async () => {
    const fs = new MemoryFs({
      [CRED]:
        '[plain]\naws_access_key_id = AKIAAVCANARY00000001\naws_secret_access_key = avCanarySecret1\n[moved]\nregion = x\n',
      [CONF]: [
        '[plugins]\ncli_legacy_plugin_path = /x\n',
        '[default]\ncli_history = enabled\n',
        `[profile moved]\ncredential_process = ${AV} credential-helper aws --profile moved\n`,
        `[profile lost]\ncredential_process = ${AV} credential-helper aws --profile lost\n`,
        '[profile role]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = plain\n',
        '[profile sso]\nsso_session = corp\n',
      ].join('\n'),
    })
    const store = new MemoryStore()
    await store.set('aws:moved', '{}')
    const report = await readStatus({fs, paths: {config: CONF, credentials: CRED}, store, now: NOW})
    assert.deepEqual(
      report.profiles.map((p) => [p.profile, p.source, p.detail ?? null, p.referencesAv, p.stored, p.warnings.length]),
      [
        ['plain', 'plaintext', null, false, false, 1],
        ['moved', 'store', null, true, true, 0],
        ['default', 'none', null, false, false, 0],
        ['lost', 'store', null, true, false, 1],
        ['role', 'other', 'role (role_arn)', false, false, 0],
        ['sso', 'other', 'IAM Identity Center (sso_*)', false, false, 0],
      ],
    )
    assert.match(report.profiles[0]!.warnings[0]!, /plaintext keys left in \/h\/.aws\/credentials/)
    assert.match(report.profiles[3]!.warnings[0]!, /runs av for lost but the OS keychain holds no keys for it/)
    assert.equal(report.mode, 'keychain')
    assert.equal(report.custodyEntry, undefined)
    assert.deepEqual(
      report.profiles.map((p) => [p.profile, p.keyIn ?? null, 'inKeychain' in p]),
      [
        ['plain', null, false],
        ['moved', 'keychain', false],
        ['default', null, false],
        ['lost', null, false],
        ['role', null, false],
        ['sso', null, false],
      ],
    )
    assert.equal(report.warnings.length, 2)
    assert.match(report.warnings[0]!, /\[plugins] section/)
    assert.match(report.warnings[1]!, /config line 5: cli_history = enabled/)
    assert.ok(!JSON.stringify(report).includes('avCanarySecret'))
  })

  it('an unavailable keychain is a warning, not a failure', async () => {
    const fs = new MemoryFs({[CRED]: '[a]\nregion = x\n'})
    const store = new MemoryStore()
    store.unavailable = true
    const report = await readStatus({fs, paths: {config: CONF, credentials: CRED}, store, now: NOW})
    assert.deepEqual(
      report.profiles.map((p) => p.stored),
      [null],
    )
    assert.match(report.warnings[0]!, /the OS keychain could not be asked/)
  })

  it('says what av releases for each profile it serves: session, role, or the durable key', async () => {
    const fs = new MemoryFs({
      [CRED]: '[dev]\n[optout]\n',
      [CONF]: [
        `[profile dev]\n${runsAv('dev')}`,
        `[profile short]\n${runsAv('short')}av_session_duration = 900\n`,
        `[profile optout]\n${runsAv('optout')}av_session = off\n`,
        '[profile admin]\nrole_arn = arn:aws:iam::1:role/admin\nsource_profile = dev\n',
      ].join('\n'),
    })
    const paths = {config: CONF, credentials: CRED}
    const modes = async (policy?: Parameters<typeof readStatus>[0]['policy']) =>
      Object.fromEntries(
        (await readStatus({fs, paths, policy, store: new MemoryStore(), now: NOW})).profiles.map((p) => [
          p.profile,
          p.releases ?? null,
        ]),
      )

    const byDefault = await modes()
    assert.deepEqual(byDefault.dev, {durationSeconds: 3600, mfa: false, mode: 'session', optOutIgnored: false})
    assert.equal((byDefault.short as {durationSeconds: number}).durationSeconds, 900)
    // Opting out loosens security: a user file alone cannot do it (trust rule).
    assert.deepEqual(byDefault.optout, {durationSeconds: 3600, mfa: false, mode: 'session', optOutIgnored: true})
    assert.equal((byDefault.admin as {mode: string}).mode, 'role')

    const allowed = await modes({...DEFAULT_POLICY, sessions: {allowOptOut: true}})
    assert.equal((allowed.optout as {mode: string}).mode, 'durable')
  })

  it("shows each stored key's age and suggests av rotate past 90 days", async () => {
    const fs = new MemoryFs({[CONF]: [`[profile old]\n${runsAv('old')}`, `[profile new]\n${runsAv('new')}`].join('\n')})
    const store = new MemoryStore()
    const day = 24 * 60 * 60 * 1000
    await store.set(
      'aws:old',
      JSON.stringify({...JSON.parse(keyItem(1)), storedAt: new Date(NOW - 100 * day).toISOString()}),
    )
    await store.set(
      'aws:new',
      JSON.stringify({...JSON.parse(keyItem(2)), keyCreated: new Date(NOW - 3 * day).toISOString()}),
    )
    const report = await readStatus({fs, now: NOW, paths: {config: CONF, credentials: CRED}, store})
    const byProfile = Object.fromEntries(report.profiles.map((p) => [p.profile, p]))
    assert.deepEqual(byProfile.old!.keyAge, {
      days: 100,
      since: '2026-08-23T00:00:00.000Z',
      source: 'stored',
      text: '100 days (stored by av; the key may be older)',
    })
    assert.deepEqual(byProfile.old!.warnings, ['its key is 100 days old (over 90): run `av rotate --profile old`'])
    assert.equal(byProfile.new!.keyAge!.text, '3 days (created by av rotate)')
    assert.deepEqual(byProfile.new!.warnings, [])
    assert.ok(!JSON.stringify(report).includes('avCanarySecret'))
  })

  it('shows SSO profiles (session, account, role, av’s sign-in) and warns while tokens sit in plaintext or av has none', async () => {
    const config = [
      '[profile corp]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = Admin\n',
      '[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n',
      '[profile legacy]\nsso_start_url = https://old.awsapps.com/start\nsso_region = us-east-1\n',
      '[profile idle]\nsso_session = idle\n',
      '[sso-session idle]\nsso_start_url = https://idle.awsapps.com/start\n',
    ].join('\n')
    const fs = new MemoryFs({[CONF]: config})
    const cache: Record<string, string> = {
      // The AWS CLI names the file by the SHA-1 of the session name, or of the start URL for a legacy profile.
      [`/h/.aws/sso/cache/${sha1('corp')}.json`]: JSON.stringify({
        accessToken: 'avCanarySsoAccess',
        clientSecret: 'avCanarySsoClient',
        expiresAt: '2026-12-01T08:00:00Z',
        refreshToken: 'avCanarySsoRefresh',
      }),
      [`/h/.aws/sso/cache/${sha1('https://old.awsapps.com/start')}.json`]: JSON.stringify({
        accessToken: 'avCanarySsoAccess2',
        expiresAt: '2026-12-01T09:00:00Z',
      }),
    }
    const store = new MemoryStore()
    store.items.set(
      'sso:idle',
      encodeSsoItem({
        client: {clientId: 'c', clientSecret: 'avCanarySsoClient3', expiresAt: NOW + 86_400_000},
        region: 'eu-west-1',
        startUrl: 'https://idle.awsapps.com/start',
        token: {
          accessToken: 'avCanarySsoAccess3',
          expiresAt: Date.parse('2026-12-01T10:00:00Z'),
          refreshToken: 'avCanarySsoRefresh3',
        },
      }),
    )
    const report = await readStatus({
      fs,
      now: NOW,
      paths: {config: CONF, credentials: CRED},
      ssoCache: {dir: '/h/.aws/sso/cache', read: (file) => cache[file] ?? null},
      store,
    })
    const byProfile = Object.fromEntries(report.profiles.map((p) => [p.profile, p]))
    assert.deepEqual(byProfile.corp!.sso, {
      account: '111122223333',
      role: 'Admin',
      session: 'corp',
      signedIn: null,
      startUrl: 'https://corp.awsapps.com/start',
      token: {
        expiresAt: '2026-12-01T08:00:00Z',
        file: `/h/.aws/sso/cache/${sha1('corp')}.json`,
        refreshToken: true,
      },
    })
    assert.match(byProfile.corp!.warnings[0]!, /in plaintext in \S+\.json, with a refresh token: any program you run/)
    assert.equal(byProfile.legacy!.sso!.session, null)
    assert.equal(byProfile.legacy!.sso!.token!.refreshToken, false)
    assert.doesNotMatch(byProfile.legacy!.warnings[0]!, /refresh token/)
    assert.match(
      byProfile.corp!.warnings[1]!,
      /av holds no IAM Identity Center sign-in for it: run `av login --profile corp`/,
    )
    assert.deepEqual([byProfile.idle!.sso!.token, byProfile.idle!.warnings], [null, []])
    assert.deepEqual(byProfile.idle!.sso!.signedIn, {expiresAt: '2026-12-01T10:00:00.000Z', store: 'the OS keychain'})
    assert.ok(!JSON.stringify(report).includes('avCanarySso'), 'no token in the report')
    assert.deepEqual(byProfile.corp!.releases, {accountId: '111122223333', mode: 'sso', roleName: 'Admin'})
  })

  describe('custody mode', () => {
    const paths = {config: CONF, credentials: CRED}
    const config = [
      `[profile dev]\n${runsAv('dev')}`,
      `[profile ops]\n${runsAv('ops')}`,
      `[profile new]\n${runsAv('new')}`,
    ]

    it('says the mode, where each key is, and flags durable keys left in the OS keychain', async () => {
      const fs = new MemoryFs({[CONF]: config.join('\n'), [CRED]: ''})
      const custody = fakeCustody(['aws:dev', 'aws:ops', 'rotate:ops', 'session:dev', 'token-key'])
      const keychain = new ListOnlyStore()
      await keychain.set('aws:dev', keyItem(1))
      await keychain.set('aws:new', keyItem(2))
      await keychain.set('aws:gone', keyItem(3))
      await keychain.set('token-key', 'avCanarySecretTokenKey')
      const report = await readStatus({custody: {entry: ENTRY, keychain}, fs, paths, store: custody.store, now: NOW})

      assert.equal(report.mode, 'custody')
      assert.equal(report.custodyEntry, ENTRY)
      assert.deepEqual(custody.calls, [['view']], 'one view call, nothing else')
      assert.deepEqual(
        report.profiles.map((p) => [p.profile, p.source, p.stored, p.inKeychain, p.keyIn ?? null]),
        [
          ['dev', 'store', true, true, 'custody'],
          ['ops', 'store', true, false, 'custody'],
          ['new', 'store', false, true, 'keychain'],
          ['gone', 'none', false, true, 'keychain'],
        ],
      )
      assert.deepEqual(
        report.profiles.map((p) => p.warnings),
        [
          [leftover('dev')],
          [
            "a rotation of ops's key was interrupted (av holds its journal): run `av rotate --profile ops` to finish it",
          ],
          [`${CONF} runs av for new but root custody holds no keys for it`, leftover('new')],
          [leftover('gone')],
        ],
      )
      assert.deepEqual(report.warnings, [])
      assert.doesNotMatch(JSON.stringify(report), /avCanarySecret|AKIAAVCANARY/)
    })

    it('a keychain that cannot be asked is a warning; the custody side is still reported', async () => {
      const fs = new MemoryFs({[CONF]: config[0]!, [CRED]: ''})
      const keychain = new MemoryStore()
      keychain.unavailable = true
      const report = await readStatus({
        custody: {entry: ENTRY, keychain},
        fs,
        now: NOW,
        paths,
        store: fakeCustody(['aws:dev']).store,
      })
      assert.deepEqual(
        report.profiles.map((p) => [p.profile, p.stored, p.inKeychain, p.keyIn, p.warnings]),
        [['dev', true, null, 'custody', []]],
      )
      assert.deepEqual(report.warnings.length, 1)
      assert.match(report.warnings[0]!, /^the OS keychain could not be asked: the OS keychain is unavailable/)
    })

    it('custody that cannot be asked is a warning naming root custody', async () => {
      const fs = new MemoryFs({[CONF]: config[0]!, [CRED]: ''})
      const keychain = new MemoryStore()
      await keychain.set('aws:dev', keyItem(1))
      const report = await readStatus({
        custody: {entry: ENTRY, keychain},
        fs,
        now: NOW,
        paths,
        store: fakeCustody([], {fail: true}).store,
      })
      assert.deepEqual(
        report.profiles.map((p) => [p.profile, p.stored, p.inKeychain, p.keyIn]),
        [['dev', null, true, 'keychain']],
      )
      assert.deepEqual(report.warnings.length, 1)
      assert.match(report.warnings[0]!, /^root custody could not be asked: custody view failed \(exit 1\)/)
    })
  })
})
