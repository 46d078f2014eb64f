import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'

import {sha256Hex} from '../../src/lib/audit/audit-chain.js'
import {type AvWorld, startAvWorld} from './support/av-fixture.js'

const WRITERS = 20
const NOBODY = 65_534
const RECORD = 'test/fixtures/record-event.ts'
const VERIFY = 'test/fixtures/verify-log.ts'

/** Run a shell script inside a fresh D-Bus session with an unlocked gnome-keyring (HOME is the sandbox). */
function inKeyring(home: string, script: string) {
  return spawnSync(
    'dbus-run-session',
    ['--', 'sh', '-c', `echo -n pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null; ${script}`],
    {encoding: 'utf8', env: {HOME: home, PATH: process.env.PATH, TMPDIR: tmpdir()}, timeout: 240_000},
  )
}

describe('audit log with real processes', () => {
  const roots: string[] = []

  after(() => {
    for (const root of roots) fs.rmSync(root, {force: true, recursive: true})
  })

  function sandbox(): string {
    const root = fs.mkdtempSync(path.join(tmpdir(), 'av-audit-e2e-'))
    roots.push(root)
    return root
  }

  it(`${WRITERS} concurrent writers (separate processes, one real keychain) → ${WRITERS} intact lines, one valid chain`, () => {
    const home = sandbox()
    const dir = path.join(home, '.local', 'state', 'av')
    const barrier = path.join(home, 'barrier')
    fs.mkdirSync(barrier)
    const event = (i: number) => JSON.stringify({event: 'release', kind: 'session', n: i, profile: 'dev'})
    const writers = Array.from(
      {length: WRITERS},
      (_, i) => `node --import tsx ${RECORD} '${dir}' '${event(i)}' --barrier='${barrier}' >>'${home}/out' 2>&1 &`,
    ).join('\n')
    const result = inKeyring(
      home,
      `${writers}
      while [ "$(ls '${barrier}' | grep -c ready)" -lt ${WRITERS} ]; do sleep 0.05; done
      touch '${barrier}/go'
      wait
      node --import tsx ${VERIFY} '${dir}'`,
    )
    const out = fs.readFileSync(path.join(home, 'out'), 'utf8')
    assert.equal(out, 'recorded\n'.repeat(WRITERS), out + result.stderr)
    const text = fs.readFileSync(path.join(dir, 'audit.jsonl'), 'utf8')
    assert.ok(text.endsWith('\n'))
    const lines = text.split('\n').slice(0, -1)
    assert.equal(lines.length, WRITERS)
    const parsed = lines.map((l) => JSON.parse(l))
    assert.deepEqual(
      parsed.map((p) => p.seq),
      Array.from({length: WRITERS}, (_, i) => i + 1),
    )
    assert.deepEqual(
      parsed.map((p) => p.n).sort((a, b) => a - b),
      Array.from({length: WRITERS}, (_, i) => i),
    )
    assert.equal(new Set(parsed.map((p) => p.pid)).size, WRITERS)
    for (let i = 1; i < WRITERS; i++) assert.equal(parsed[i].prev, sha256Hex(lines[i - 1]!))
    assert.deepEqual(JSON.parse(result.stdout), {files: ['audit.jsonl'], lines: WRITERS, ok: true})
    assert.equal(fs.existsSync(path.join(dir, 'audit.lock')), false)
    assert.doesNotMatch(text + out + result.stdout, /avCanarySecret/)
  })

  it('an unprivileged writer that cannot write the state dir gets audit-failed and writes nothing', () => {
    const root = sandbox()
    fs.chmodSync(root, 0o755)
    // Case 1: the state dir exists, root-owned 0755: the lock file cannot be created.
    const lockedDir = path.join(root, 'locked')
    fs.mkdirSync(lockedDir, {mode: 0o755})
    // Case 2: the dir is the writer's, but audit.jsonl is root's 0644: the append fails after the lock.
    const ownDir = path.join(root, 'own')
    fs.mkdirSync(ownDir, {mode: 0o700})
    fs.chownSync(ownDir, NOBODY, NOBODY)
    fs.writeFileSync(path.join(ownDir, 'audit.jsonl'), '', {mode: 0o644})

    for (const [dir, failing] of [
      [lockedDir, /EACCES: permission denied, open '.*\/locked\/audit\.lock'/],
      [ownDir, /EACCES: permission denied, open '.*\/own\/audit\.jsonl'/],
    ] as const) {
      const result = spawnSync(
        'setpriv',
        [
          `--reuid=${NOBODY}`,
          `--regid=${NOBODY}`,
          '--clear-groups',
          process.execPath,
          '--import',
          'tsx',
          RECORD,
          dir,
          JSON.stringify({event: 'release', profile: 'dev'}),
          '--memory-store',
        ],
        {encoding: 'utf8', env: {HOME: '/nonexistent', PATH: process.env.PATH, TMPDIR: tmpdir()}, timeout: 60_000},
      )
      assert.equal(result.status, 1, result.stderr)
      assert.equal(result.stdout, '')
      assert.match(result.stderr, /^av: the audit log .* cannot be written \(/)
      assert.match(result.stderr, failing)
      assert.match(
        result.stderr,
        /Try this: Make .* writable by you \(av refuses to release credentials it cannot record\)/,
      )
      assert.equal(fs.readFileSync(path.join(ownDir, 'audit.jsonl'), 'utf8'), '')
      assert.deepEqual(fs.readdirSync(lockedDir), [])
    }
  })
})

describe("the user's audit trail lives where the account database says", () => {
  let world: AvWorld

  before(async () => {
    world = await startAvWorld({keySuffix: 'AUD1'})
  })

  after(async () => {
    await world?.stop()
  })

  const trail = () => path.join(world.sandbox.home, '.local', 'state', 'av', 'audit.jsonl')

  it('a helper refusal with a foreign HOME and XDG_STATE_HOME lands in the real trail, which verifies clean', async () => {
    const foreign = world.sandbox.userDir('foreign')
    const refused = await world.av(['credential-helper', 'aws', '--profile', 'default'], {
      env: {HOME: foreign, XDG_STATE_HOME: path.join(foreign, 'state')},
    })
    assert.equal(refused.code, 1, refused.stderr)
    assert.match(refused.stderr, /^av credential-helper: refused \(token-missing\): .*\n$/)
    assert.deepEqual(fs.readdirSync(foreign), [], 'nothing was written where the environment pointed')

    const verify = await world.av(['log', '--verify'])
    assert.equal(verify.code, 0, verify.stdout + verify.stderr)
    assert.match(verify.stdout, /^audit log intact: \d+ lines in 1 file\(s\) under /)
    const refusals = (await world.av(['log', '--json', '--event', 'refusal'])).stdout.trim().split('\n')
    assert.equal(JSON.parse(refusals.at(-1)!).reason, 'token-missing')
    const doctorRun = await world.av(['doctor', '--json'])
    const doctor = JSON.parse(doctorRun.stdout)
    assert.equal(doctor.checks.find((c: {id: string}) => c.id === 'audit-chain')?.status, 'ok')
    // av asked IAM with the key from the keychain: the endpoint's keys were made on 2026-01-02.
    const keyAge = doctor.checks.find((c: {id: string}) => c.id === 'key-age')
    assert.match(keyAge?.message, /^a key is over 90 days old: default \d+ days \(IAM's CreateDate\)$/)
    const offline = JSON.parse((await world.av(['doctor', '--json', '--offline'])).stdout)
    assert.equal(
      offline.checks.find((c: {id: string}) => c.id === 'key-age')?.message,
      'every key is at most 90 days old: default 0 days (stored by av; the key may be older)',
    )
    world.assertNoLeak({doctor: doctorRun.stdout + doctorRun.stderr, refused: refused.stderr, verify: verify.stdout})
  })

  it('a line really removed is found, by av log --verify and by av doctor', async () => {
    await world.av(['credential-helper', 'aws', '--profile', 'default'])
    const lines = fs.readFileSync(trail(), 'utf8').trimEnd().split('\n')
    assert.equal(lines.length, 3, 'migrate and two refusals are in the trail')
    fs.writeFileSync(trail(), [lines[0], lines[2], ''].join('\n'))
    const verify = await world.av(['log', '--verify'])
    assert.equal(verify.code, 1)
    assert.match(
      verify.stdout,
      /^audit log broken at audit\.jsonl line 2: seq gap: expected 2, found 3 \(line\(s\) deleted\)/,
    )
    const doctor = JSON.parse((await world.av(['doctor', '--json'])).stdout)
    assert.equal(doctor.checks.find((c: {id: string}) => c.id === 'audit-chain')?.status, 'fail')
  })
})
