import assert from 'node:assert/strict'
import {chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'

import type {ProcessSnapshot, ProcessTable} from '../../src/lib/process-table.js'
import type {FileFacts, TrustFs} from '../../src/lib/trust.js'

import {type CustodyDeps, custodyMain, findSudoCaller, terminalOf, ttyDevice} from '../../src/lib/custody-main.js'
import {accountFileName, FileCustodyStore} from '../../src/lib/custody-store.js'
import {validatePolicy} from '../../src/lib/policy.js'
import {loadTokenKey, RUN_TOKEN_LIFETIME_MS, verifyToken} from '../../src/lib/token.js'
import {realTrustFs} from '../../src/lib/trust.js'
import {FILES, LINKS, snap} from '../fakes/process-world.js'
import {factsFs, file} from '../fakes/trust-fs.js'

const FACTS: Record<string, FileFacts> = {...FILES, '/usr/bin/sudo': file(0, 0o4755), '/home/u/sudo': file(1000)}
const FS: TrustFs = factsFs(FACTS, LINKS)

const SELF = 50
/** custody (root) ← sudo (ruid 1000) ← caller (1000); with use_pty a second sudo sits between. */
function world(procs: ProcessSnapshot[]): ProcessTable {
  const byPid = new Map(procs.map((p) => [p.pid, p]))
  return {environ: () => ({}), snapshot: (pid) => byPid.get(pid) ?? null}
}

const CUSTODY = snap({exe: '/usr/bin/node', pid: SELF, ppid: 40, uid: 0})
const SUDO = snap({argv: ['/usr/bin/sudo'], exe: '/usr/bin/sudo', pid: 40, ppid: 30, uid: 1000})
const MONITOR = snap({argv: ['/usr/bin/sudo'], exe: '/usr/bin/sudo', pid: 45, ppid: 40, uid: 0})
const CALLER = snap({argv: ['/usr/bin/bash'], exe: '/usr/bin/bash', pid: 30, ppid: 1, uid: 1000})

function caller(procs: ProcessSnapshot[], env?: Record<string, string>, pid = SELF): string {
  try {
    const found = findSudoCaller({env: env ?? {SUDO_UID: '1000'}, pid, table: world(procs), trustFs: FS})
    return `${found.caller.pid}/${found.uid}`
  } catch (error) {
    return (error as {reason?: string}).reason ?? String(error)
  }
}

describe('custody: who ran sudo', () => {
  const TABLE: Array<[string, ProcessSnapshot[], Record<string, string> | undefined, string]> = [
    ['sudo, then its caller', [CUSTODY, SUDO, CALLER], undefined, '30/1000'],
    ['use_pty: two sudo processes', [{...CUSTODY, ppid: 45}, MONITOR, SUDO, CALLER], undefined, '30/1000'],
    ['no SUDO_UID', [CUSTODY, SUDO, CALLER], {}, 'custody-not-sudo'],
    ['SUDO_UID names another user', [CUSTODY, SUDO, CALLER], {SUDO_UID: '0'}, 'custody-not-sudo'],
    ['SUDO_UID not a number', [CUSTODY, SUDO, CALLER], {SUDO_UID: '1000 '}, 'custody-not-sudo'],
    ['parent is not sudo', [{...CUSTODY, ppid: 30}, CALLER], undefined, 'custody-not-sudo'],
    ['a user-owned sudo look-alike', [CUSTODY, {...SUDO, exe: '/home/u/sudo'}, CALLER], undefined, 'custody-not-sudo'],
    ['the caller runs as another uid', [CUSTODY, SUDO, {...CALLER, uid: 1001}], undefined, 'custody-not-sudo'],
    ['the caller is gone', [CUSTODY, SUDO], undefined, 'custody-caller-untrusted'],
  ]
  for (const [name, procs, env, expected] of TABLE) {
    it(`${name} → ${expected}`, () => {
      assert.equal(caller(procs, env), expected)
    })
  }
})

/** custodyMain with a fake world; the process-chain checks refuse before any store is touched. */
function deps(over: Partial<CustodyDeps> & {procs?: ProcessSnapshot[]; input?: string}) {
  const out: string[] = []
  const err: string[] = []
  const d: CustodyDeps = {
    clock: {now: () => 1_700_000_000_000},
    env: {AV_POLICY: '/nonexistent/policy.json', SUDO_UID: '1000'},
    euid: 0,
    helperDeps() {
      throw new Error('not in this test')
    },
    homeOf: () => ({gid: 1000, home: '/home/u'}),
    pid: SELF,
    readAsUser() {
      throw new Error('not in this test')
    },
    stderr: {write: (t) => err.push(t)},
    stdin: () => over.input ?? '',
    stdout: {write: (t) => out.push(t)},
    table: world(over.procs ?? [CUSTODY, SUDO, CALLER]),
    terminalOf: () => null,
    trustFs: FS,
    ...over,
  }
  return {d, err, out}
}

describe('custody entry point verbs', () => {
  const LAUNCHER_ARGV = ['/usr/bin/node', '/opt/av/bin/run.js', 'run', '--', 'aws', 's3', 'ls']
  const PAIR = JSON.stringify({
    accessKeyId: 'AKIAAVCANARY0000UNIT',
    profile: 'default',
    secretAccessKey: 'avCanarySecret/u',
  })
  const cases: Array<
    [string, string[], Partial<CustodyDeps> & {input?: string; procs?: ProcessSnapshot[]}, number, RegExp]
  > = [
    ['not root', ['mint'], {euid: 1000}, 126, /refused \(custody-not-sudo\)/],
    ['unknown verb', ['dump'], {}, 2, /refused \(usage\): unknown verb "dump"/],
    ['mint from a shell', ['mint'], {}, 126, /refused \(launcher-untrusted\)/],
    [
      'mint from a user-owned launcher script',
      ['mint'],
      {
        procs: [
          CUSTODY,
          SUDO,
          {...CALLER, argv: ['/usr/bin/node', '/home/u/av/bin/run.js', 'run'], exe: '/usr/bin/node'},
        ],
      },
      126,
      /refused \(launcher-untrusted\)/,
    ],
    [
      'mint from a traced launcher',
      ['mint'],
      {procs: [CUSTODY, SUDO, {...CALLER, argv: LAUNCHER_ARGV, exe: '/usr/bin/node', tracerPid: 77}]},
      126,
      /refused \(traced\)/,
    ],
    ['release from a shell', ['release', '--profile', 'default'], {}, 126, /refused \(custody-caller-untrusted\)/],
    [
      'release from the genuine helper, traced',
      ['release'],
      {
        procs: [
          CUSTODY,
          SUDO,
          {
            ...CALLER,
            argv: ['node', '/opt/av/bin/run.js', 'credential-helper', 'aws'],
            exe: '/usr/bin/node',
            tracerPid: 9,
          },
        ],
      },
      126,
      /refused \(traced\)/,
    ],
    [
      'release from av run by a user-owned node',
      ['release'],
      {
        procs: [
          CUSTODY,
          SUDO,
          {...CALLER, argv: ['node', '/opt/av/bin/run.js', 'credential-helper', 'aws'], exe: '/home/u/node'},
        ],
      },
      126,
      /refused \(custody-caller-untrusted\)/,
    ],
    [
      'store without a key pair',
      ['store'],
      {},
      2,
      /refused \(usage\): stdin must hold a value, or accessKeyId and secretAccessKey/,
    ],
    ['store a bad profile name', ['store'], {input: '{"profile":"a b"}'}, 2, /refused \(usage\): the profile name/],
    [
      'the password-guarded entry used for anything but checkout and mint',
      ['store'],
      {env: {AV_CUSTODY_AUTHENTICATED: '1', AV_POLICY: '/nonexistent/policy.json', SUDO_UID: '1000'}},
      2,
      /refused \(usage\): the -auth entry point serves checkout and mint only, not store/,
    ],
    ['checkout through the plain entry', ['checkout', 'default'], {}, 126, /refused \(custody-not-authenticated\)/],
    [
      'store without a policy naming custody',
      ['store'],
      {input: PAIR},
      126,
      /failed \(refused\): custody is not configured/,
    ],
  ]
  for (const [name, argv, over, code, message] of cases) {
    it(`${name} → ${code}`, async () => {
      const {d, err, out} = deps({input: '{"profile":"default","argvHash":"x"}', ...over})
      assert.equal(await custodyMain(argv, d), code)
      assert.deepEqual(out, [])
      assert.match(err.join(''), message)
      assert.ok(!err.join('').includes('avCanarySecret'))
    })
  }
})

describe('custody mint for the genuine launcher', () => {
  const isRoot = process.getuid?.() === 0
  const base = mkdtempSync(path.join(tmpdir(), 'av-custody-mint-'))
  chmodSync(base, 0o755)

  after(() => rmSync(base, {force: true, recursive: true}))
  // Process facts from the fake machine, the policy and custody store from real root-owned temp files.
  const MIXED: TrustFs = {
    realpath: (p) => (p in FACTS || p in LINKS ? FS.realpath(p) : realTrustFs.realpath(p)),
    stat: (p) => (p in FACTS || p in LINKS ? FS.stat(p) : realTrustFs.stat(p)),
  }

  it(
    "signs the launcher's claims (elevated kept) with a root-only key, bound to its pid and start time",
    {skip: !isRoot && 'needs root (root-owned files)'},
    async () => {
      const custodyDir = path.join(base, 'custody')
      mkdirSync(custodyDir, {mode: 0o700})
      const policy = path.join(base, 'policy.json')
      writeFileSync(policy, JSON.stringify({custody: {dir: custodyDir, entry: '/opt/av/libexec/av-custody'}}), {
        mode: 0o644,
      })
      const launcher = snap({
        argv: ['/usr/bin/node', '/opt/av/bin/run.js', 'run', '--', 'aws', 'iam', 'list-users'],
        exe: '/usr/bin/node',
        pid: 30,
        startTime: '4242',
        uid: 1000,
      })
      const claims = {argvHash: 'a'.repeat(64), configHash: 'b'.repeat(64), elevated: true, profile: 'dev'}
      // Elevated claims only through the password-guarded entry (AV_CUSTODY_AUTHENTICATED from its script).
      const plain = deps({
        env: {AV_POLICY: policy, SUDO_UID: '1000'},
        input: JSON.stringify(claims),
        procs: [CUSTODY, SUDO, launcher],
        trustFs: MIXED,
      })
      assert.equal(await custodyMain(['mint'], plain.d), 126)
      assert.match(plain.err.join(''), /refused \(custody-not-authenticated\)/)
      assert.deepEqual(plain.out, [])
      const {d, err, out} = deps({
        env: {AV_CUSTODY_AUTHENTICATED: '1', AV_POLICY: policy, SUDO_UID: '1000'},
        input: JSON.stringify(claims),
        procs: [CUSTODY, SUDO, launcher],
        trustFs: MIXED,
      })
      assert.equal(await custodyMain(['mint'], d), 0, err.join(''))
      const key = await loadTokenKey(new FileCustodyStore(path.join(custodyDir, '1000')), {create: false})
      assert.ok(key)
      const verdict = verifyToken(key, out.join('').trim(), 1_700_000_000_000)
      assert.ok(verdict.ok)
      assert.deepEqual(
        {...verdict.claims, expires: verdict.claims.expires - verdict.claims.issued},
        {
          ...claims,
          expires: RUN_TOKEN_LIFETIME_MS,
          issued: 1_700_000_000_000,
          launcherPid: 30,
          launcherStart: '4242',
          v: 1,
        },
      )
      assert.equal(statSync(path.join(custodyDir, '1000', accountFileName('token-key'))).mode & 0o777, 0o600)
    },
  )
})

describe('FileCustodyStore', () => {
  const base = mkdtempSync(path.join(tmpdir(), 'av-custody-unit-'))
  chmodSync(base, 0o755)

  after(() => rmSync(base, {force: true, recursive: true}))
  const isRoot = process.getuid?.() === 0

  it(
    'keeps one 0600 file per account in a 0700 directory, atomically replaced; lists and deletes',
    {skip: !isRoot && 'needs root (root-owned files)'},
    async () => {
      const dir = path.join(base, 'a', '1000')
      const parent = path.dirname(dir)
      mkdirSync(parent, {mode: 0o700})
      const store = new FileCustodyStore(dir)
      assert.equal(await store.get('aws:dev'), null)
      assert.deepEqual(await store.list(), [])
      await store.set('aws:dev', 'v1')
      await store.set('aws:dev', 'v2')
      await store.set('session:dev', 's')
      assert.equal(await store.get('aws:dev'), 'v2')
      assert.deepEqual(await store.list(), ['aws:dev', 'session:dev'])
      assert.equal(statSync(dir).mode & 0o777, 0o700)
      assert.equal(statSync(path.join(dir, accountFileName('aws:dev'))).mode & 0o777, 0o600)
      assert.deepEqual(readdirSync(dir).sort(), [accountFileName('aws:dev'), accountFileName('session:dev')].sort())
      assert.equal(await store.delete('aws:dev'), true)
      assert.equal(await store.delete('aws:dev'), false)
      assert.deepEqual(await store.list(), ['session:dev'])
    },
  )

  it(
    'refuses a directory others can read or a user owns',
    {skip: !isRoot && 'needs root (root-owned files)'},
    async () => {
      const dir = path.join(base, 'b', '1000')
      mkdirSync(dir, {mode: 0o700, recursive: true})
      chmodSync(path.dirname(dir), 0o755)
      const store = new FileCustodyStore(dir)
      await store.set('aws:dev', 'v')
      chmodSync(dir, 0o755)
      await assert.rejects(store.get('aws:dev'), /readable by others/)
      chmodSync(dir, 0o700)
      chownSync(dir, 1000, 1000)
      await assert.rejects(store.get('aws:dev'), /owned by uid 1000, not root/)
      await assert.rejects(store.set('aws:dev', 'w'), /store-unavailable|refusing the custody store/)
    },
  )

  it('account names map to safe file names and back', () => {
    for (const account of ['aws:dev', 'session:a/b', 'token-key', 'role:../x']) {
      const name = accountFileName(account)
      assert.match(name, /^[\w-]+\.item$/)
    }
  })
})

describe('custody: the terminal root asks on', () => {
  it("maps /proc's tty_nr to the user's pts or console, nothing else", () => {
    const TABLE: Array<[number, null | string]> = [
      [(136 << 8) | 3, '/dev/pts/3'],
      [(137 << 8) | 4, '/dev/pts/260'],
      [(136 << 8) | (0x1_00 << 12) | 2, '/dev/pts/258'],
      [(4 << 8) | 2, '/dev/tty2'],
      [(4 << 8) | 64, null],
      [5 << 8, null],
      [0, null],
      [-1, null],
      [Number.NaN, null],
    ]
    assert.deepEqual(
      TABLE.map(([nr]) => ttyDevice(nr)),
      TABLE.map(([, device]) => device),
    )
  })

  it('a process that is gone has none', () => {
    assert.equal(terminalOf(2 ** 22 + 1, 0), null)
  })
})

describe('policy custody key', () => {
  it('accepts absolute entry and dir, refuses anything else', () => {
    assert.deepEqual(
      validatePolicy({custody: {dir: '/var/lib/av/custody', entry: '/opt/av/libexec/av-custody'}}).policy?.custody,
      {
        dir: '/var/lib/av/custody',
        entry: '/opt/av/libexec/av-custody',
      },
    )
    assert.deepEqual(validatePolicy({custody: {dir: 'rel', entry: '/x'}}).problems, [
      'custody must be {"entry": "/absolute/path", "dir": "/absolute/path"}',
    ])
  })
})
