import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {describe, it} from 'node:test'

import type {AuditEvent} from '../../../src/lib/audit/audit.js'

import {AvError} from '../../../src/lib/core/errors.js'
import {DEFAULT_POLICY} from '../../../src/lib/core/policy.js'
import {migrate, type MigrateDeps} from '../../../src/lib/keys/migrate.js'
import {restore} from '../../../src/lib/keys/restore.js'
import {importMove, planSsoMoves, type SsoMigrateDeps} from '../../../src/lib/keys/sso-migrate.js'
import {decodeSsoItem} from '../../../src/lib/sessions/sso-tokens.js'
import {FakeClock} from '../../fakes/fake-sts.js'
import {MemoryFs} from '../../fakes/memory-fs.js'
import {MemoryStore} from '../../fakes/memory-store.js'

const dir = mkdtempSync(path.join(tmpdir(), 'av-sso-migrate-unit-'))
process.on('exit', () => rmSync(dir, {force: true, recursive: true}))

const CRED = '/home/u/.aws/credentials'
const CONF = '/home/u/.aws/config'
const CACHE = '/home/u/.aws/sso/cache'
const LOGIN_CACHE = '/home/u/.aws/login/cache'
const SESSION = 'arn:aws:sts::111122223333:assumed-role/Admin/alice'

function loginFile(session: string): string {
  return path.join(LOGIN_CACHE, `${createHash('sha256').update(session).digest('hex')}.json`)
}

function loginDocument(n: number): string {
  return JSON.stringify({
    accessToken: {
      accessKeyId: `ASIAAVCANARYLOGN000${n}`,
      accountId: '111122223333',
      expiresAt: '2026-12-05T12:15:00Z',
      secretAccessKey: `avCanarySecret/login/${n}`,
      sessionToken: `avCanarySecret/loginToken/${n}`,
    },
    clientId: 'arn:aws:signin:::devtools/same-device',
    dpopKey: '-----BEGIN EC PRIVATE KEY-----\navCanarySecret\n-----END EC PRIVATE KEY-----\n',
    refreshToken: `avCanarySecret/loginRefresh/${n}`,
  })
}

const START = 'https://corp.awsapps.com/start'
const NOW = Date.parse('2026-12-05T12:00:00Z')
const CONFIG = `[profile dev]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = Dev

[profile other]
sso_session = elsewhere
sso_account_id = 111122223333
sso_role_name = Dev

[sso-session corp]
sso_start_url = ${START}
sso_region = eu-west-1

[sso-session elsewhere]
sso_start_url = https://elsewhere.awsapps.com/start
sso_region = eu-west-1
`

function cacheFile(key: string): string {
  return path.join(CACHE, `${createHash('sha1').update(key).digest('hex')}.json`)
}

function cliCache(startUrl: string, n: number): string {
  return JSON.stringify({
    accessToken: `avCanarySecret/access/${n}`,
    clientId: `client${n}`,
    clientSecret: `avCanarySecret/client/${n}`,
    expiresAt: '2026-12-05T13:00:00Z',
    refreshToken: `avCanarySecret/refresh/${n}`,
    region: 'eu-west-1',
    registrationExpiresAt: '2027-03-01T00:00:00Z',
    startUrl,
  })
}

function world(files: Record<string, string>) {
  const fs = new MemoryFs(files)
  const store = new MemoryStore()
  const clock = new FakeClock(NOW)
  const events: AuditEvent[] = []
  const read = (file: string) => fs.files.get(file)?.toString() ?? null
  const sso: SsoMigrateDeps = {
    cacheDir: CACHE,
    configText: () => read(CONF),
    importCache: (move) => importMove(store, clock, move),
    loginCacheDir: LOGIN_CACHE,
    policy: DEFAULT_POLICY,
    readFile: read,
    async removeFile(file) {
      fs.files.delete(file)
    },
  }
  const deps: MigrateDeps = {
    audit: {
      async record(e) {
        events.push(e)
      },
    },
    fs,
    interactive: false,
    lockFile: path.join(mkdtempSync(path.join(dir, 'state-')), 'migrate.lock'),
    paths: {config: CONF, credentials: CRED},
    sso,
    store,
  }
  return {clock, deps, events, fs, read, sso, store}
}

describe('av migrate and IAM Identity Center caches', () => {
  it('plans only caches of sign-ins the config uses, for the start URL it names', () => {
    const w = world({
      [CONF]: CONFIG,
      [cacheFile('corp')]: cliCache(START, 1),
      // Named like `elsewhere`'s cache but holding another start URL's token: not this sign-in's.
      [cacheFile('elsewhere')]: cliCache('https://attacker.example/start', 2),
      [cacheFile('unused')]: cliCache('https://unused.awsapps.com/start', 3),
    })
    const {moves, profiles} = planSsoMoves(w.sso)
    assert.deepEqual(
      moves.map((m) => [m.key, m.file, m.profiles]),
      [['corp', cacheFile('corp'), ['dev']]],
    )
    assert.deepEqual(profiles, ['dev', 'other'])
    assert.deepEqual(planSsoMoves(w.sso, ['other']).moves, [])
  })

  it('with no credentials file: moves the token into the store, reads it back, deletes the plaintext cache', async () => {
    const w = world({[CONF]: CONFIG, [cacheFile('corp')]: cliCache(START, 1)})
    const dry = await migrate(w.deps, {avPath: '/opt/av/bin/run.js', dryRun: true})
    assert.match(
      dry.summary,
      /^would move the IAM Identity Center tokens of corp \(dev\) from the AWS CLI's plaintext cache/,
    )
    assert.ok(w.fs.files.has(cacheFile('corp')), 'a dry run changes nothing')
    const result = await migrate(w.deps, {avPath: '/opt/av/bin/run.js', yes: true})
    assert.deepEqual(result.ssoSignIns, ['corp'])
    assert.match(result.summary, /deleted the plaintext cache/)
    assert.equal(w.fs.files.has(cacheFile('corp')), false)
    const item = decodeSsoItem(w.store.items.get('sso:corp')!)!
    assert.equal(item.token.refreshToken, 'avCanarySecret/refresh/1')
    assert.equal(w.read(CONF), CONFIG, 'the config is not edited')
    assert.deepEqual(w.events.at(-1)?.ssoSignIns, ['corp'])
    assert.ok(!JSON.stringify([result, w.events]).includes('avCanarySecret'))
  })

  it('--profile of an SSO profile moves only its sign-in and is not "no keys in the credentials file"', async () => {
    const w = world({[CONF]: CONFIG, [CRED]: '', [cacheFile('corp')]: cliCache(START, 1)})
    const result = await migrate(w.deps, {avPath: '/opt/av/bin/run.js', profiles: ['dev'], yes: true})
    assert.deepEqual([result.migrated, result.ssoSignIns], [[], ['corp']])
    const none = await migrate(w.deps, {avPath: '/opt/av/bin/run.js', profiles: ['other'], yes: true})
    assert.match(none.summary, /^nothing to migrate/)
  })

  it('a live sign-in of av’s own is not replaced, and the cache file is left (nothing lost)', async () => {
    const w = world({[CONF]: CONFIG, [cacheFile('corp')]: cliCache(START, 2)})
    await importMove(w.store, w.clock, {key: 'corp', kind: 'sso', text: cliCache(START, 1)})
    await assert.rejects(migrate(w.deps, {avPath: '/opt/av/bin/run.js', yes: true}), (error: AvError) => {
      assert.equal(error.code, 'conflict')
      assert.ok(!error.message.includes('avCanarySecret'))
      return true
    })
    assert.ok(w.fs.files.has(cacheFile('corp')))
    assert.equal(decodeSsoItem(w.store.items.get('sso:corp')!)!.token.accessToken, 'avCanarySecret/access/1')
  })

  it('a console sign-in (`aws login`) cache moves into login:<session>, once per session, and the file goes', async () => {
    const config = `[profile console]\nlogin_session = ${SESSION}\nregion = eu-west-1\n[profile again]\nlogin_session = ${SESSION}\n`
    const w = world({[CONF]: config, [loginFile(SESSION)]: loginDocument(1)})
    const {moves, profiles} = planSsoMoves(w.sso)
    assert.deepEqual(
      moves.map((m) => [m.kind, m.key, m.profiles]),
      [['login', SESSION, ['console', 'again']]],
    )
    assert.deepEqual(profiles, ['console', 'again'])
    const result = await migrate(w.deps, {avPath: '/opt/av/bin/run.js', yes: true})
    assert.deepEqual(result.ssoSignIns, [SESSION])
    assert.equal(w.fs.files.has(loginFile(SESSION)), false)
    const item = JSON.parse(w.store.items.get(`login:${SESSION}`)!) as {document: string}
    assert.equal(item.document, loginDocument(1))
    assert.ok(!JSON.stringify(result).includes('avCanarySecret'))
  })

  it('restore leaves the config as it was and says av still holds the sign-in', async () => {
    const w = world({[CONF]: CONFIG, [CRED]: '', [cacheFile('corp')]: cliCache(START, 1)})
    await migrate(w.deps, {avPath: '/opt/av/bin/run.js', yes: true})
    const back = await restore({...w.deps, confirm: async () => true, interactive: true}, {yes: true})
    assert.equal(w.read(CONF), CONFIG)
    assert.deepEqual(back.ssoSignIns, ['corp'])
    assert.match(
      back.summary,
      /av still holds the IAM Identity Center or console sign-in\(s\) corp .*`aws sso login`.*`av logout --all`/,
    )
  })
})
