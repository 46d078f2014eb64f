import {loadSharedConfigFiles} from '@smithy/shared-ini-file-loader'
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {describe, it} from 'node:test'

import type {AuditEvent} from '../../../src/lib/audit/audit.js'
import type {AwsFileSnapshot} from '../../../src/lib/aws/aws-files.js'

import {AvError, EXIT} from '../../../src/lib/core/errors.js'
import {migrate, type MigrateDeps} from '../../../src/lib/keys/migrate.js'
import {restore} from '../../../src/lib/keys/restore.js'
import {readKeyPair} from '../../../src/lib/store/credentials.js'
import {MemoryFs} from '../../fakes/memory-fs.js'
import {MemoryStore} from '../../fakes/memory-store.js'
import {CANARY_SECRET, CORPUS} from '../../fixtures/aws-corpus.js'

const dir = mkdtempSync(path.join(tmpdir(), 'av-migrate-unit-'))
process.on('exit', () => rmSync(dir, {force: true, recursive: true}))

const CRED = '/home/u/.aws/credentials'
const CONF = '/home/u/.aws/config'
const AV = '/opt/av/bin/run.js'

function world(credentials: null | string, config: null | string) {
  const files: Record<string, string> = {}
  if (credentials !== null) files[CRED] = credentials
  if (config !== null) files[CONF] = config
  const fs = new MemoryFs(files)
  const store = new MemoryStore()
  const events: AuditEvent[] = []
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
    store,
  }
  return {deps, events, fs, store}
}

function text(fs: MemoryFs, file: string): null | string {
  return fs.files.get(file)?.toString() ?? null
}

async function sdkRead(fs: MemoryFs) {
  const sub = mkdtempSync(path.join(dir, 'sdk-'))
  const filepath = path.join(sub, 'credentials')
  const configFilepath = path.join(sub, 'config')
  if (fs.files.has(CRED)) writeFileSync(filepath, fs.files.get(CRED)!)
  if (fs.files.has(CONF)) writeFileSync(configFilepath, fs.files.get(CONF)!)
  return loadSharedConfigFiles({configFilepath, filepath, ignoreCache: true})
}

async function rejectsWith(promise: Promise<unknown>, code: string, message: RegExp): Promise<AvError> {
  let caught: unknown
  await promise.catch((error: unknown) => {
    caught = error
  })
  assert.ok(caught instanceof AvError, `expected an AvError, got ${String(caught)}`)
  assert.equal(caught.code, code)
  assert.match(caught.message, message)
  assert.ok(!caught.message.includes(CANARY_SECRET))
  return caught
}

describe('migrate then restore over the corpus', () => {
  for (const c of CORPUS) {
    it(`${c.name}`, async () => {
      const {deps, events, fs, store} = world(c.credentials, c.config)
      const before = await sdkRead(fs)
      const result = await migrate(deps, {avPath: AV, yes: true})
      assert.deepEqual(result.migrated, c.moves)
      assert.deepEqual(
        result.skipped.map((s) => s.profile),
        c.skips ?? [],
      )
      const moved = c.moves.map((p) => before.credentialsFile[p]!.aws_secret_access_key!)
      for (const file of [CRED, CONF]) for (const s of moved) assert.ok(!(text(fs, file) ?? '').includes(s), file)
      if (!c.skips) for (const file of [CRED, CONF]) assert.ok(!(text(fs, file) ?? '').includes(CANARY_SECRET), file)

      // What the SDK reads now: the same profiles and keys, minus the key pairs, plus av's credential_process.
      const now = await sdkRead(fs)
      for (const profile of c.moves) {
        const expected = {...before.credentialsFile[profile]}
        delete expected.aws_access_key_id
        delete expected.aws_secret_access_key
        delete expected.aws_session_token
        assert.deepEqual(now.credentialsFile[profile] ?? {}, expected)
        assert.deepEqual(now.configFile[profile], {
          ...before.configFile[profile],
          // eslint-disable-next-line camelcase -- the AWS key name
          credential_process: `${AV} credential-helper aws --profile ${profile}`,
        })
        // eslint-disable-next-line no-await-in-loop -- one profile after the other
        const pair = await readKeyPair(store, profile)
        assert.equal(pair?.accessKeyId, before.credentialsFile[profile]!.aws_access_key_id)
        assert.equal(pair?.secretAccessKey, before.credentialsFile[profile]!.aws_secret_access_key)
        assert.equal(pair?.sessionToken, before.credentialsFile[profile]!.aws_session_token)
      }

      for (const profile of Object.keys(before.configFile).filter((p) => !c.moves.includes(p))) {
        assert.deepEqual(now.configFile[profile], before.configFile[profile])
      }

      const again = await migrate(deps, {avPath: AV, yes: true})
      assert.deepEqual(again.migrated, [])
      assert.match(again.summary, /^nothing to migrate/)

      const back = await restore(deps, {yes: true})
      assert.deepEqual(back.restored.sort(), [...c.moves].sort())
      assert.equal(text(fs, CRED), c.credentials)
      assert.equal(text(fs, CONF), c.config)
      assert.deepEqual(await store.list(), [])
      assert.ok(!JSON.stringify(events).includes(CANARY_SECRET))
      if (c.moves.length > 0)
        assert.deepEqual(
          events.map((e) => e.event),
          ['migrate', 'restore'],
        )
    })
  }
})

const PAIR = `aws_access_key_id = AKIAAVCANARY00000001\naws_secret_access_key = ${CANARY_SECRET}1\n`

describe('migrate: planning', () => {
  it('moves only --profile profiles and says which are already moved', async () => {
    const {deps, fs} = world(`[a]\n${PAIR}[b]\n${PAIR}`, null)
    const first = await migrate(deps, {avPath: AV, profiles: ['b', 'b'], yes: true})
    assert.deepEqual(first.migrated, ['b'])
    assert.match(text(fs, CRED)!, /^\[a\]\naws_access_key_id/)
    assert.equal(text(fs, CONF), `[profile b]\ncredential_process = ${AV} credential-helper aws --profile b\n`)
    const second = await migrate(deps, {avPath: AV, profiles: ['b'], yes: true})
    assert.deepEqual([second.migrated, second.already, second.store], [[], ['b'], 'the OS keychain'])
  })

  it('a profile that is nowhere is an error', async () => {
    const {deps} = world(`[a]\n${PAIR}`, null)
    await rejectsWith(
      migrate(deps, {avPath: AV, profiles: ['nope'], yes: true}),
      'not-found',
      /profile nope has no keys/,
    )
  })

  it('--force replaces a different credential_process and restore puts it back', async () => {
    const config = '[profile a]\ncredential_process = /usr/bin/other --json\n'
    const {deps, fs} = world(`[a]\n${PAIR}`, config)
    const skipped = await migrate(deps, {avPath: AV, yes: true})
    assert.deepEqual(skipped.skipped, [
      {
        profile: 'a',
        reason: 'other-credential-process',
        detail: `${CONF} line 2: the profile already has a different credential_process (--force replaces it; restore puts it back)`,
      },
    ])
    await migrate(deps, {avPath: AV, force: true, yes: true})
    assert.equal(text(fs, CONF), `[profile a]\ncredential_process = ${AV} credential-helper aws --profile a\n`)
    await restore(deps, {yes: true})
    assert.equal(text(fs, CONF), config)
  })

  it('--dry-run changes nothing and needs no --yes', async () => {
    const {deps, fs, store} = world(`[a]\n${PAIR}`, null)
    const result = await migrate(deps, {avPath: AV, dryRun: true})
    assert.match(result.summary, /^would move the keys of a/)
    assert.deepEqual([text(fs, CRED), text(fs, CONF), await store.list()], [`[a]\n${PAIR}`, null, []])
  })

  it('without a terminal and without --yes it refuses (126) and changes nothing', async () => {
    const {deps, fs, store} = world(`[a]\n${PAIR}`, null)
    const error = await rejectsWith(migrate(deps, {avPath: AV}), 'needs-confirmation', /no terminal to confirm/)
    assert.equal(error.exit, EXIT.refused)
    assert.deepEqual([text(fs, CRED), await store.list()], [`[a]\n${PAIR}`, []])
  })

  it('an unavailable store fails before anything is read or written', async () => {
    const {deps, fs} = world(`[a]\n${PAIR}`, null)
    ;(deps.store as MemoryStore).unavailable = true
    await rejectsWith(migrate(deps, {avPath: AV, yes: true}), 'store-unavailable', /keychain is unavailable/)
    assert.deepEqual(fs.writes, [])
  })
})

describe('migrate: bad input leaves both files byte-identical', () => {
  const config = '[default]\nregion = us-east-1\n'
  const table: Array<[string, null | string, string, RegExp]> = [
    [
      'half a pair (no secret)',
      `[a]\naws_access_key_id = AKIAAVCANARY00000001\n[b]\n${PAIR}`,
      'bad-input',
      /profile a in .*credentials \(line 1\) has no aws_secret_access_key/,
    ],
    [
      'half a pair (no key id)',
      `[a]\naws_secret_access_key = ${CANARY_SECRET}\n`,
      'bad-input',
      /profile a .* has no aws_access_key_id/,
    ],
    [
      'an inline comment after a secret',
      `[a]\naws_access_key_id = AKIAAVCANARY00000001\naws_secret_access_key = ${CANARY_SECRET} # old\n`,
      'bad-input',
      /credentials line 3: an inline comment after aws_secret_access_key/,
    ],
    [
      'an indented key line',
      `[a]\nregion = x\n  aws_access_key_id = AKIAAVCANARY00000001\naws_secret_access_key = ${CANARY_SECRET}\n`,
      'bad-input',
      /credentials line 3: aws_access_key_id is indented/,
    ],
    [
      'a secret continued on the next line',
      `[a]\naws_access_key_id = AKIAAVCANARY00000001\naws_secret_access_key = ${CANARY_SECRET}\n  more\n`,
      'bad-input',
      /credentials line 4: aws_secret_access_key continues/,
    ],
    [
      'duplicate sections',
      `[a]\n${PAIR}[a]\nregion = x\n`,
      'bad-input',
      /credentials line 4: a duplicate section \[a\]/,
    ],
    [
      '[profile x] in credentials',
      `[profile a]\n${PAIR}`,
      'bad-input',
      /credentials line 1: a \[profile NAME\] header/,
    ],
    ['a missing credentials file', null, 'not-found', /no AWS credentials file at \/home\/u\/.aws\/credentials/],
  ]
  for (const [name, credentials, code, message] of table) {
    it(name, async () => {
      const {deps, fs, store} = world(credentials, config)
      await rejectsWith(migrate(deps, {avPath: AV, yes: true}), code, message)
      assert.deepEqual([text(fs, CRED), text(fs, CONF), fs.writes, await store.list()], [credentials, config, [], []])
    })
  }

  it('non-UTF-8 bytes', async () => {
    const bytes = Buffer.concat([Buffer.from(`[a]\n${PAIR}x = `), Buffer.from([0xc3, 0x28]), Buffer.from('\n')])
    const {deps, fs} = world(null, config)
    fs.files.set(CRED, bytes)
    await rejectsWith(
      migrate(deps, {avPath: AV, yes: true}),
      'bad-input',
      /credentials line 4: bytes that are not UTF-8/,
    )
    assert.deepEqual([fs.files.get(CRED), fs.writes], [bytes, []])
  })

  it('a 0-byte credentials file: nothing to migrate', async () => {
    const {deps, fs} = world('', config)
    const result = await migrate(deps, {avPath: AV, yes: true})
    assert.match(result.summary, /nothing to migrate: .*credentials holds no profile/)
    assert.deepEqual(fs.writes, [])
  })

  it('spaces around keys and `=` inside values are read as the SDK reads them', async () => {
    const token = `IQoJ${CANARY_SECRET}Token+/a==`
    const credentials = `[a]\n  \naws_access_key_id=AKIAAVCANARY00000001\naws_secret_access_key   =   ${CANARY_SECRET}=x  \naws_session_token = ${token}\n`
    const {deps, fs, store} = world(credentials, null)
    await migrate(deps, {avPath: AV, yes: true})
    assert.deepEqual(await readKeyPair(store, 'a'), {
      accessKeyId: 'AKIAAVCANARY00000001',
      secretAccessKey: `${CANARY_SECRET}=x`,
      sessionToken: token,
    })
    await restore(deps, {yes: true})
    assert.equal(text(fs, CRED), credentials)
  })
})

describe('migrate: failure midway rolls back and says so', () => {
  const credentials = `[a]\n${PAIR}[b]\n${PAIR}`
  const config = '[profile a]\nregion = x\n'

  it('the store fails on the second profile: items removed, files untouched', async () => {
    const {deps, fs, store} = world(credentials, config)
    let sets = 0
    const set = store.set.bind(store)
    store.set = async (account, value) => {
      if (++sets === 2) throw new AvError('store-unavailable', 'the OS keychain is unavailable: it is locked')
      return set(account, value)
    }

    await rejectsWith(
      migrate(deps, {avPath: AV, yes: true}),
      'store-unavailable',
      /migrate failed .*Rolled back: .* are as they were/,
    )
    assert.deepEqual([text(fs, CRED), text(fs, CONF), fs.writes, await store.list()], [credentials, config, [], []])
  })

  it('the credentials write fails: config put back, items removed, a store item that was there before restored', async () => {
    const {deps, fs, store} = world(credentials, config)
    await store.set('aws:b', 'earlier')
    fs.failWrite = {count: 1, path: CRED}
    await rejectsWith(migrate(deps, {avPath: AV, yes: true}), 'internal', /ENOSPC.*Rolled back/)
    assert.deepEqual([text(fs, CRED), text(fs, CONF)], [credentials, config])
    assert.deepEqual([...store.items], [['aws:b', 'earlier']])
  })

  it('a read-back that differs is a failure', async () => {
    const {deps, fs, store} = world(credentials, config)
    store.get = async () => '{"v":1,"accessKeyId":"AKIAAVCANARY00000009","secretAccessKey":"other"}'
    await rejectsWith(
      migrate(deps, {avPath: AV, yes: true}),
      'store-unavailable',
      /did not return the keys of a as written/,
    )
    assert.deepEqual([text(fs, CRED), text(fs, CONF)], [credentials, config])
  })

  it('a file changed by someone else between reading and writing is not overwritten', async () => {
    const {deps, fs} = world(credentials, config)
    const read = fs.read.bind(fs)
    let reads = 0
    fs.read = async (file, kind) => {
      if (file === CONF && ++reads === 2) fs.files.set(CONF, Buffer.from('[profile a]\nregion = y\n'))
      return read(file, kind)
    }

    await rejectsWith(migrate(deps, {avPath: AV, yes: true}), 'conflict', /config changed while av was working on it/)
    assert.deepEqual([text(fs, CRED), text(fs, CONF)], [credentials, '[profile a]\nregion = y\n'])
  })
})

/**
 * A SIGKILL, as the lib sees it: the step never finishes and nothing after it (rollback included) runs. `reached`
 * settles when the killed run got there (a fixed wait was too short on a loaded machine).
 */
function killPoint(): {hang: () => Promise<never>; reached: Promise<void>} {
  let reach!: () => void
  const reached = new Promise<void>((resolve) => {
    reach = resolve
  })
  return {
    hang() {
      reach()
      return new Promise<never>(() => {})
    },
    reached,
  }
}

function freshLock(deps: MigrateDeps): void {
  deps.lockFile = path.join(mkdtempSync(path.join(dir, 'state-')), 'migrate.lock')
}

describe('migrate and restore: interrupted runs converge', () => {
  const credentials = `# keys\n[a]\r\n${PAIR}region = x\n`
  const config = '[default]\nregion = y'

  for (const stopAt of ['config', 'credentials'] as const) {
    it(`migrate killed while writing ${stopAt}: a re-run finishes and restore is exact`, async () => {
      const {deps, fs, store} = world(credentials, config)
      const write = fs.write.bind(fs)
      const kill = killPoint()
      fs.write = async (file: string, bytes: Buffer, like?: AwsFileSnapshot) =>
        file === (stopAt === 'config' ? CONF : CRED) ? kill.hang() : write(file, bytes, like)
      migrate(deps, {avPath: AV, yes: true}).catch(() => {})
      await kill.reached
      fs.write = write
      freshLock(deps)
      const result = await migrate(deps, {avPath: AV, yes: true})
      assert.deepEqual(result.migrated, ['a'])
      assert.ok(!text(fs, CRED)!.includes(CANARY_SECRET))
      assert.deepEqual(await store.list(), ['aws:a'])
      await restore(deps, {yes: true})
      assert.deepEqual([text(fs, CRED), text(fs, CONF)], [credentials, config])
    })
  }

  it('restore killed while writing config: a re-run neither duplicates the keys nor loses them', async () => {
    const {deps, fs, store} = world(credentials, config)
    await migrate(deps, {avPath: AV, yes: true})
    const write = fs.write.bind(fs)
    const kill = killPoint()
    fs.write = async (file: string, bytes: Buffer, like?: AwsFileSnapshot) =>
      file === CONF ? kill.hang() : write(file, bytes, like)
    restore(deps, {yes: true}).catch(() => {})
    await kill.reached
    fs.write = write
    freshLock(deps)
    assert.equal(text(fs, CRED), credentials)
    await restore(deps, {yes: true})
    assert.deepEqual([text(fs, CRED), text(fs, CONF), await store.list()], [credentials, config, []])
  })

  it('a run that finds a live lock refuses and changes nothing', async () => {
    const {deps, fs} = world(credentials, config)
    writeFileSync(deps.lockFile, `${process.pid}\n`)
    await rejectsWith(
      migrate(deps, {avPath: AV, yes: true}),
      'busy',
      /another av migrate or restore is running \(pid \d+\)/,
    )
    assert.deepEqual(fs.writes, [])
    writeFileSync(deps.lockFile, '999999999\n')
    assert.deepEqual((await migrate(deps, {avPath: AV, yes: true})).migrated, ['a'])
  })

  it('restore puts keys at the end of a section the user edited since', async () => {
    const {deps, fs} = world(`[a]\n${PAIR}`, null)
    await migrate(deps, {avPath: AV, yes: true})
    fs.files.set(CRED, Buffer.from('[a]\nregion = z\n# mine\n'))
    await restore(deps, {yes: true})
    assert.equal(
      text(fs, CRED),
      `[a]\nregion = z\naws_access_key_id = AKIAAVCANARY00000001\naws_secret_access_key = ${CANARY_SECRET}1\n# mine\n`,
    )
    assert.equal(text(fs, CONF), null)
  })

  it('restore without a terminal and without --yes refuses and says what it would write where', async () => {
    const {deps, fs} = world(`[a]\n${PAIR}`, null)
    await migrate(deps, {avPath: AV, yes: true})
    const after = text(fs, CRED)
    await rejectsWith(
      restore(deps, {}),
      'needs-confirmation',
      /write the keys of a back into \/home\/u\/.aws\/credentials/,
    )
    assert.equal(text(fs, CRED), after)
  })
})
