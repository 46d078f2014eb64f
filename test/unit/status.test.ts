import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {DEFAULT_POLICY} from '../../src/lib/policy.js'
import {readStatus} from '../../src/lib/status.js'
import {MemoryFs} from '../fakes/memory-fs.js'
import {MemoryStore} from '../fakes/memory-store.js'

const CRED = '/h/.aws/credentials'
const CONF = '/h/.aws/config'
const AV = '/opt/av/bin/run.js'
const runsAv = (p: string) => `credential_process = ${AV} credential-helper aws --profile ${p}\n`

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
    const report = await readStatus({fs, paths: {config: CONF, credentials: CRED}, store})
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
    assert.equal(report.warnings.length, 2)
    assert.match(report.warnings[0]!, /\[plugins] section/)
    assert.match(report.warnings[1]!, /config line 5: cli_history = enabled/)
    assert.ok(!JSON.stringify(report).includes('avCanarySecret'))
  })

  it('an unavailable keychain is a warning, not a failure', async () => {
    const fs = new MemoryFs({[CRED]: '[a]\nregion = x\n'})
    const store = new MemoryStore()
    store.unavailable = true
    const report = await readStatus({fs, paths: {config: CONF, credentials: CRED}, store})
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
        (await readStatus({fs, paths, policy, store: new MemoryStore()})).profiles.map((p) => [
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
})
