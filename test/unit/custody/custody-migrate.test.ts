/**
 * `av migrate` and `av restore` in custody mode: the user-side CustodyClientStore talking to the real entry-point
 * logic (custodyMain, run in-process for each `sudo -n <entry> <verb>`), with the custody store in real root-owned
 * files and the AWS files in memory. What crosses to the user's side is checked for the canary on every call.
 */
import assert from 'node:assert/strict'
import {chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'

import type {TrustFs} from '../../../src/lib/core/trust.js'

import {AvError} from '../../../src/lib/core/errors.js'
import {realTrustFs} from '../../../src/lib/core/trust.js'
import {type CustodyCall, CustodyClientStore} from '../../../src/lib/custody/custody-client.js'
import {migrate, type MigrateDeps} from '../../../src/lib/keys/migrate.js'
import {restore} from '../../../src/lib/keys/restore.js'
import {type CustodyDeps, custodyMain} from '../../../src/lib/main/custody-main.js'
import {isSealed, keyProof, mergeStored, SEALED, sealValue} from '../../../src/lib/store/custody-keys.js'
import {accountFileName, FileCustodyStore} from '../../../src/lib/store/custody-store.js'
import {MemoryFs} from '../../fakes/memory-fs.js'
import {MemoryStore} from '../../fakes/memory-store.js'
import {FILES, LINKS, snap} from '../../fakes/process-world.js'
import {factsFs, file} from '../../fakes/trust-fs.js'
import {CANARY_SECRET, CORPUS} from '../../fixtures/aws-corpus.js'

const CRED = '/home/u/.aws/credentials'
const CONF = '/home/u/.aws/config'
const AV = '/opt/av/bin/run.js'
const ENTRY = '/opt/av/libexec/av-custody'
const isRoot = process.getuid?.() === 0
const needsRoot = {skip: !isRoot && 'needs root (root-owned custody files)'}
const text = (fs: MemoryFs, f: string) => fs.files.get(f)?.toString() ?? null

describe('custody keys: sealing, proofs, merging', () => {
  const account = 'aws:dev'
  const real = JSON.stringify({v: 1, accessKeyId: 'AKIAAVCANARY0000UNIT', secretAccessKey: `${CANARY_SECRET}/a`})
  const record = {restore: {v: 1, credentials: {lines: [], remaining: 1}}}
  const withRecord = JSON.stringify({...JSON.parse(real), ...record})

  it('a sealed item keeps everything but the key fields', () => {
    const sealed = sealValue(account, withRecord)
    assert.ok(!sealed.includes(CANARY_SECRET) && !sealed.includes('AKIAAVCANARY'))
    assert.deepEqual(JSON.parse(sealed), {...record, accessKeyId: SEALED, secretAccessKey: SEALED, v: 1})
    assert.ok(isSealed(account, sealed))
    assert.ok(!isSealed(account, real))
  })

  it('storing: a new key, the same key with a new record, a sealed record update; never a different key', () => {
    assert.equal(mergeStored(account, null, real), real)
    assert.equal(mergeStored(account, real, withRecord), withRecord)
    assert.equal(mergeStored(account, withRecord, sealValue(account, real)), real)
    const other = JSON.stringify({v: 1, accessKeyId: 'AKIAOTHER', secretAccessKey: 'other'})
    assert.throws(
      () => mergeStored(account, real, other),
      (e: AvError) => e.code === 'conflict',
    )
    assert.throws(
      () => mergeStored(account, null, sealValue(account, real)),
      (e: AvError) => e.code === 'not-found',
    )
  })

  it('the proof differs for a different secret and carries no key', () => {
    const a = keyProof({accessKeyId: 'AKIA1', secretAccessKey: 's1'})
    assert.match(a, /^[\da-f]{64}$/)
    assert.notEqual(a, keyProof({accessKeyId: 'AKIA1', secretAccessKey: 's2'}))
  })
})

describe('migrate and restore through root custody', needsRoot, () => {
  const base = mkdtempSync(path.join(tmpdir(), 'av-custody-migrate-'))
  chmodSync(base, 0o755)

  after(() => rmSync(base, {force: true, recursive: true}))

  const FS: TrustFs = factsFs({...FILES, '/usr/bin/sudo': file(0, 0o4755)}, LINKS)
  // Process facts from the fake machine, the policy and custody store from real root-owned temp files.
  const MIXED: TrustFs = {
    realpath: (p) => (p.startsWith(base) ? realTrustFs.realpath(p) : FS.realpath(p)),
    stat: (p) => (p.startsWith(base) ? realTrustFs.stat(p) : FS.stat(p)),
  }
  const CUSTODY = snap({exe: '/usr/bin/node', pid: 50, ppid: 40, uid: 0})
  const SUDO = snap({argv: ['/usr/bin/sudo'], exe: '/usr/bin/sudo', pid: 40, ppid: 30, uid: 1000})
  const SHELL = snap({argv: ['/usr/bin/bash'], exe: '/usr/bin/bash', pid: 30, ppid: 1, uid: 1000})
  const procs = new Map([CUSTODY, SUDO, SHELL].map((p) => [p.pid, p]))

  let n = 0
  /** A fresh custody install (policy + root-only dir) and a user whose every custody call runs custodyMain. */
  function world(credentials: string, config: null | string) {
    const root = path.join(base, String(n++))
    const dir = path.join(root, 'custody')
    mkdirSync(dir, {mode: 0o700, recursive: true})
    const policy = path.join(root, 'policy.json')
    writeFileSync(policy, JSON.stringify({custody: {dir, entry: '/opt/av/libexec/av-custody'}}), {mode: 0o644})
    /** What the person does when sudo asks for the password (only the -auth entry asks). */
    const answers: Array<'no terminal' | 'right' | 'wrong'> = []
    const crossed: string[] = []
    const call = async (entry: string, args: string[], input: string): Promise<CustodyCall> => {
      const auth = entry.endsWith('-auth')
      const answer = auth ? (answers.shift() ?? 'no terminal') : 'right'
      if (answer === 'wrong') return {code: 1, stderr: 'sudo: 3 incorrect password attempts\n', stdout: ''}
      if (answer === 'no terminal') {
        const stderr =
          'sudo: a terminal is required to read the password; either use the -S option to read from standard input or configure an askpass helper\n'
        return {code: 1, stderr, stdout: ''}
      }

      const out: string[] = []
      const err: string[] = []
      const deps: CustodyDeps = {
        clock: {now: () => Date.now()},
        env: {AV_POLICY: policy, SUDO_UID: '1000', ...(auth ? {AV_CUSTODY_AUTHENTICATED: '1'} : {})},
        euid: 0,
        helperDeps() {
          throw new Error('not in this test')
        },
        rotateApis() {
          throw new Error('not in this test')
        },
        homeOf: () => ({gid: 1000, home: '/home/u'}),
        pid: 50,
        readAsUser() {
          throw new Error('not in this test')
        },
        stderr: {write: (t) => err.push(t)},
        stdin: () => input,
        stdout: {write: (t) => out.push(t)},
        table: {environ: () => ({}), snapshot: (pid) => procs.get(pid) ?? null},
        terminalOf: () => null,
        trustFs: MIXED,
      }
      const code = await custodyMain(args, deps)
      const result = {code, stderr: err.join(''), stdout: out.join('')}
      crossed.push(`${args[0]} ${result.stdout}${result.stderr}`)
      return result
    }

    const files: Record<string, string> = {[CRED]: credentials}
    if (config !== null) files[CONF] = config
    const fs = new MemoryFs(files)
    const client = () => new CustodyClientStore(ENTRY, call, () => `${ENTRY}-auth`)
    const store = client()
    const deps: MigrateDeps = {
      audit: {async record() {}},
      fs,
      interactive: false,
      lockFile: path.join(root, 'migrate.lock'),
      paths: {config: CONF, credentials: CRED},
      store,
    }
    const held = new FileCustodyStore(path.join(dir, '1000'))
    return {answers, call, client, crossed, deps, dir, fs, held, store}
  }

  const cases = CORPUS.filter((c) => c.moves.length > 0)

  for (const c of cases) {
    it(`${c.name}: the keys go to root, come back only when approved, byte-identical`, async () => {
      const w = world(c.credentials!, c.config)
      const result = await migrate(w.deps, {avPath: AV, yes: true})
      assert.deepEqual(result.migrated, c.moves)
      assert.match(result.summary, /into root custody/)
      if (!c.skips) assert.ok(!text(w.fs, CRED)!.includes(CANARY_SECRET))
      // Root holds each whole item (key and restore record) in a 0600 file; the user saw none of it.
      for (const profile of c.moves) {
        const raw = await w.held.get(`aws:${profile}`) // eslint-disable-line no-await-in-loop -- in order
        assert.ok(raw && !isSealed(`aws:${profile}`, raw) && JSON.parse(raw).restore)
      }

      // A fresh process (no key held) sees every item sealed and cannot delete one.
      const fresh = w.client()
      const account = `aws:${c.moves[0]}`
      assert.ok(isSealed(account, (await fresh.get(account))!))
      await assert.rejects(fresh.delete(account), /in root custody; deleting it needs it taken out first/)

      const again = await migrate(w.deps, {avPath: AV, yes: true})
      assert.match(again.summary, /^nothing to migrate/)
      // `av migrate` prints "Already in <store>: …": root custody here, where the keys really are.
      assert.deepEqual([[...again.already].sort(), again.store], [[...c.moves].sort(), 'root custody'])

      // No terminal for sudo to ask the password on, or a wrong password: nothing changes, root still holds the keys.
      const before = {conf: text(w.fs, CONF), cred: text(w.fs, CRED)}
      await assert.rejects(
        restore({...w.deps, store: w.client()}, {yes: true}),
        /needs your password, and there is no terminal/,
      )
      w.answers.push('wrong')
      await assert.rejects(restore({...w.deps, store: w.client()}, {yes: true}), /the password was not given/)
      assert.deepEqual({conf: text(w.fs, CONF), cred: text(w.fs, CRED)}, before)
      // The plain entry point (no password) never hands a key out, whoever calls it.
      const direct = await w.call(ENTRY, ['checkout', c.moves[0]!], '')
      assert.equal(direct.code, 126)
      assert.match(direct.stderr, /refused \(custody-not-authenticated\)/)
      assert.equal((await w.held.list()).filter((a) => a.startsWith('aws:')).length, c.moves.length)

      w.answers.push('right')
      const back = await restore({...w.deps, store: w.client()}, {})
      assert.deepEqual(back.restored.sort(), [...c.moves].sort())
      assert.equal(text(w.fs, CRED), c.credentials)
      assert.equal(text(w.fs, CONF), c.config)
      assert.deepEqual(
        (await w.held.list()).filter((a) => a.startsWith('aws:')),
        [],
      )
      // Only the approved checkout carried a key to the user's side.
      assert.deepEqual(
        w.crossed.filter((line) => line.includes(CANARY_SECRET)).map((line) => line.split(' ')[0]),
        ['checkout'],
      )
    })
  }

  it('keys a keychain-mode migrate left in the OS keychain move into custody, and restore still puts every byte back', async () => {
    const credentials = `[default]\nregion = eu-west-1\n\n[dev]\naws_access_key_id = AKIAAVCANARY0000KC\naws_secret_access_key = ${CANARY_SECRET}/kc\n`
    const w = world(credentials, '[profile dev]\noutput = json\n')
    const keychain = new MemoryStore()
    // Before custody was installed: keychain mode.
    await migrate({...w.deps, store: keychain}, {avPath: AV, yes: true})
    const afterKeychainMigrate = {conf: text(w.fs, CONF), cred: text(w.fs, CRED)}
    assert.deepEqual(await keychain.list(), ['aws:dev'])

    const dry = await migrate({...w.deps, keychain}, {avPath: AV, dryRun: true})
    assert.equal(dry.summary, 'would move the keys of dev from the OS keychain into root custody')
    const moved = await migrate({...w.deps, keychain}, {avPath: AV, yes: true})
    assert.deepEqual([moved.migrated, moved.adopted], [[], ['dev']])
    assert.equal(moved.summary, 'moved the keys of dev from the OS keychain into root custody')
    assert.deepEqual(await keychain.list(), [])
    assert.deepEqual({conf: text(w.fs, CONF), cred: text(w.fs, CRED)}, afterKeychainMigrate)
    assert.ok((await w.held.get('aws:dev'))!.includes(`${CANARY_SECRET}/kc`))

    w.answers.push('right')
    await restore({...w.deps, store: w.client()}, {})
    assert.equal(text(w.fs, CRED), credentials)
    assert.equal(text(w.fs, CONF), '[profile dev]\noutput = json\n')
  })

  it('a different key for a stored profile is refused and migrate rolls back', async () => {
    const first = `[dev]\naws_access_key_id = AKIAAVCANARY0000ONE\naws_secret_access_key = ${CANARY_SECRET}/one\n`
    const w = world(first, null)
    await migrate(w.deps, {avPath: AV, yes: true})
    // The user puts another key under the same name back into the file and tries again.
    const second = `[dev]\naws_access_key_id = AKIAAVCANARY0000TWO\naws_secret_access_key = ${CANARY_SECRET}/two\n`
    w.fs.files.set(CRED, Buffer.from(second))
    const conf = text(w.fs, CONF)
    await assert.rejects(
      migrate(w.deps, {avPath: AV, yes: true}),
      (e: AvError) => e.code === 'conflict' && /different key/.test(e.message) && !e.message.includes(CANARY_SECRET),
    )
    assert.equal(text(w.fs, CRED), second)
    assert.equal(text(w.fs, CONF), conf)
    assert.match(JSON.parse((await w.held.get('aws:dev'))!).secretAccessKey, /\/one$/)
  })

  it('remove without the proof is refused; the file stays 0600 root', async () => {
    const w = world(
      `[dev]\naws_access_key_id = AKIAAVCANARY0000RM\naws_secret_access_key = ${CANARY_SECRET}/rm\n`,
      null,
    )
    await migrate(w.deps, {avPath: AV, yes: true})
    const forged = await w.call('', ['remove'], JSON.stringify({profile: 'dev', proof: 'f'.repeat(64)}))
    assert.equal(forged.code, 126)
    assert.match(forged.stderr, /refused \(custody-caller-untrusted\): no proof of holding the key of dev/)
    const item = path.join(w.dir, '1000', accountFileName('aws:dev'))
    assert.ok(readFileSync(item, 'utf8').includes(`${CANARY_SECRET}/rm`))
  })
})
