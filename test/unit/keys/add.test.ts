import assert from 'node:assert/strict'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {describe, it} from 'node:test'

import type {AuditEvent} from '../../../src/lib/audit/audit.js'
import type {StsTarget} from '../../../src/lib/aws/sts-client.js'

import {AvError} from '../../../src/lib/core/errors.js'
import {type AddDeps, addKey, checkTypedKey} from '../../../src/lib/keys/add.js'
import {restore} from '../../../src/lib/keys/restore.js'
import {readKeyPair} from '../../../src/lib/store/credentials.js'
import {MemoryFs} from '../../fakes/memory-fs.js'
import {MemoryStore} from '../../fakes/memory-store.js'

const dir = mkdtempSync(path.join(tmpdir(), 'av-add-unit-'))
process.on('exit', () => rmSync(dir, {force: true, recursive: true}))

const CRED = '/home/u/.aws/credentials'
const CONF = '/home/u/.aws/config'
const AV = '/opt/av/bin/run.js'
const ID = 'AKIAAVCANARY0000ADD1'
const SECRET = 'avCanarySecret/ADD1+k9Xq7Zr2Lp4Wm8Tn3Vb6Yc1'
const NOW = Date.parse('2026-12-04T10:00:00Z')

function world(files: Record<string, string>, typed: string[] = [ID, SECRET]) {
  const fs = new MemoryFs(files)
  const store = new MemoryStore()
  const events: AuditEvent[] = []
  const asked: string[][] = []
  const verified: StsTarget[] = []
  const deps: AddDeps = {
    async askHidden(questions) {
      asked.push(questions)
      return typed
    },
    audit: {
      async record(e) {
        events.push(e)
      },
    },
    avPath: AV,
    async callerIdentity(target) {
      verified.push(target)
      if (target.credentials.secretAccessKey !== SECRET) {
        throw Object.assign(new Error('The request signature we calculated does not match'), {
          name: 'SignatureDoesNotMatch',
        })
      }

      return {arn: 'arn:aws:iam::111122223333:user/canary'}
    },
    clock: {now: () => NOW},
    fs,
    lockFile: path.join(mkdtempSync(path.join(dir, 'state-')), 'migrate.lock'),
    paths: {config: CONF, credentials: CRED},
    policy: {approvers: [], decisions: {}, endpoints: [], sts: {endpoint: 'http://127.0.0.1:9'}},
    regionOf: () => 'eu-west-1',
    store,
  }
  return {asked, deps, events, fs, store, verified}
}

function text(fs: MemoryFs, file: string): null | string {
  return fs.files.get(file)?.toString() ?? null
}

async function rejection(promise: Promise<unknown>): Promise<AvError> {
  const error = await promise.then(
    () => assert.fail('expected a refusal'),
    (error_: unknown) => error_,
  )
  assert.ok(error instanceof AvError, `expected an AvError, got ${String(error)}`)
  assert.ok(!error.message.includes(SECRET) && !(error.suggestion ?? '').includes(SECRET))
  return error
}

describe('av add', () => {
  it('stores the typed key, points config at av, stamps the time, and restore writes it to the credentials file', async () => {
    const config = '[default]\nregion = eu-west-1\n\n[profile dev]\nregion = eu-west-1\noutput = json\n'
    const {asked, deps, events, fs, store, verified} = world({[CONF]: config, [CRED]: '[default]\nregion = x\n'})
    const result = await addKey(deps, {profile: 'dev'})
    assert.equal(result.accessKeyId, ID)
    assert.equal(result.arn, 'arn:aws:iam::111122223333:user/canary')
    assert.equal(asked.length, 1)
    assert.match(asked[0]![1]!, /secret access key for dev/)
    assert.equal(verified[0]!.endpoint, 'http://127.0.0.1:9')
    assert.deepEqual(await readKeyPair(store, 'dev'), {accessKeyId: ID, secretAccessKey: SECRET})
    assert.equal(JSON.parse((await store.get('aws:dev'))!).storedAt, '2026-12-04T10:00:00.000Z')
    assert.equal(
      text(fs, CONF),
      `${config.replace('output = json\n', `output = json\ncredential_process = ${AV} credential-helper aws --profile dev\n`)}`,
    )
    assert.equal(text(fs, CRED), '[default]\nregion = x\n')
    assert.deepEqual(events, [{accessKeyId: ID, event: 'add', profile: 'dev', resumed: false, verified: true}])
    assert.ok(!result.summary.includes(SECRET))
    assert.match(result.summary, /av rotate --profile dev/)

    const back = await restore({...deps, interactive: false}, {yes: true})
    assert.deepEqual(back.restored, ['dev'])
    assert.equal(text(fs, CONF), config)
    assert.equal(
      text(fs, CRED),
      `[default]\nregion = x\n\n[dev]\naws_access_key_id = ${ID}\naws_secret_access_key = ${SECRET}\n`,
    )
    assert.equal(await store.get('aws:dev'), null)
  })

  it('creates the config section (and file) when there is none, and restore removes them again', async () => {
    const {deps, fs} = world({})
    await addKey(deps, {profile: 'new'})
    assert.equal(text(fs, CONF), `[profile new]\ncredential_process = ${AV} credential-helper aws --profile new\n`)
    await restore({...deps, interactive: false}, {yes: true})
    assert.equal(text(fs, CONF), null)
    assert.equal(text(fs, CRED), `[new]\naws_access_key_id = ${ID}\naws_secret_access_key = ${SECRET}\n`)
  })

  it('stores nothing when the key does not work, and says so without the secret', async () => {
    const wrong = 'avCanarySecret/ADD1+WRONGWRONGWRONGWRONGW'
    const {deps, fs, store} = world({[CONF]: '[profile dev]\nregion = eu-west-1\n'}, [ID, wrong])
    const error = await rejection(addKey(deps, {profile: 'dev'}))
    assert.equal(error.code, 'sts-failed')
    assert.match(error.message, /SignatureDoesNotMatch; nothing was stored/)
    assert.ok(!error.message.includes(wrong))
    assert.deepEqual(await store.list(), [])
    assert.equal(text(fs, CONF), '[profile dev]\nregion = eu-west-1\n')
  })

  it('--no-verify stores without asking STS', async () => {
    const {deps, store, verified} = world({})
    const result = await addKey(deps, {profile: 'dev', verify: false})
    assert.equal(result.arn, null)
    assert.equal(verified.length, 0)
    assert.notEqual(await store.get('aws:dev'), null)
  })

  it('refuses before asking: keys already in the credentials file, a key av holds, an SSO profile, another credential_process', async () => {
    const cases: Array<[Record<string, string>, RegExp, RegExp]> = [
      [
        {[CRED]: `[dev]\naws_access_key_id = ${ID}\naws_secret_access_key = x\n`},
        /already has keys/,
        /av migrate --profile dev/,
      ],
      [{[CONF]: '[profile dev]\nsso_session = corp\n'}, /IAM Identity Center/, /another profile name/],
      [{[CONF]: '[profile dev]\ncredential_process = /usr/bin/other\n'}, /different credential_process/, /--force/],
    ]
    for (const [files, message, suggestion] of cases) {
      const {asked, deps, store} = world(files)
      // eslint-disable-next-line no-await-in-loop -- one case after the other
      const error = await rejection(addKey(deps, {profile: 'dev'}))
      assert.match(error.message, message)
      assert.match(error.suggestion ?? '', suggestion)
      assert.equal(asked.length, 0, 'nobody is asked to type a key that cannot be stored')
      assert.deepEqual(await store.list(), []) // eslint-disable-line no-await-in-loop
    }

    const {asked, deps} = world({})
    await addKey(deps, {profile: 'dev'})
    const again = await rejection(addKey(deps, {profile: 'dev'}))
    assert.match(again.message, /already holds a key for profile dev/)
    assert.match(again.suggestion ?? '', /av rotate --profile dev/)
    assert.equal(asked.length, 1)
  })

  it('--force replaces another credential_process, and restore puts it back', async () => {
    const config = '[profile dev]\ncredential_process = /usr/bin/other\n'
    const {deps, fs} = world({[CONF]: config})
    await addKey(deps, {force: true, profile: 'dev'})
    assert.equal(text(fs, CONF), `[profile dev]\ncredential_process = ${AV} credential-helper aws --profile dev\n`)
    await restore({...deps, interactive: false}, {yes: true})
    assert.equal(text(fs, CONF), config)
  })

  it('finishes a run killed between the store and config; a different key is refused', async () => {
    const {deps, fs, store} = world({})
    await store.set('aws:dev', JSON.stringify({accessKeyId: ID, secretAccessKey: SECRET, v: 1}))
    const result = await addKey(deps, {profile: 'dev'})
    assert.equal(result.resumed, true)
    assert.match(text(fs, CONF)!, /credential-helper aws --profile dev/)

    const other = world({})
    await other.store.set(
      'aws:dev',
      JSON.stringify({accessKeyId: 'AKIAAVCANARY0000OTHR', secretAccessKey: SECRET, v: 1}),
    )
    const error = await rejection(addKey(other.deps, {profile: 'dev'}))
    assert.equal(error.code, 'conflict')
    assert.match(error.message, /a different key for dev/)
    assert.equal(text(other.fs, CONF), null)
  })

  it('a failed config write rolls the store back', async () => {
    const {deps, fs, store} = world({[CONF]: '[profile dev]\nregion = eu-west-1\n'})
    fs.failWrite = {count: 1, path: CONF}
    await rejection(addKey(deps, {profile: 'dev'}))
    assert.deepEqual(await store.list(), [])
  })
})

describe('checkTypedKey', () => {
  it('takes an IAM user key, trimmed', () => {
    assert.deepEqual(checkTypedKey(` ${ID} `, `${SECRET}\t`), {accessKeyId: ID, secretAccessKey: SECRET})
  })

  it('refuses a temporary key, a malformed id, a secret with spaces or the id pasted twice, never echoing them', () => {
    for (const [id, secret, message] of [
      ['ASIAAVCANARY0000TEMP', SECRET, /temporary one/],
      ['AKIA123', SECRET, /access key id is not one \(7 characters/],
      [ID, 'avCanarySecret ADD1 k9Xq7Zr2Lp4Wm8Tn3Vb6Yc1', /secret access key is not one/],
      [ID, ID, /secret access key is not one/],
    ] as const) {
      assert.throws(
        () => checkTypedKey(id, secret),
        (error: AvError) => message.test(error.message) && !error.message.includes(secret.slice(4, 20)),
      )
    }
  })
})
