import assert from 'node:assert/strict'
import {chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'

import type {ProcessSnapshot, ProcessTable} from '../../../src/lib/core/process-table.js'
import type {FileFacts, TrustFs} from '../../../src/lib/core/trust.js'

import {validatePolicy} from '../../../src/lib/core/policy.js'
import {realTrustFs} from '../../../src/lib/core/trust.js'
import {RunStore} from '../../../src/lib/custody/run-record.js'
import {findSudoCaller} from '../../../src/lib/custody/sudo-caller.js'
import {type CustodyDeps, custodyMain, terminalOf, ttyDevice} from '../../../src/lib/main/custody-main.js'
import {hashArgv} from '../../../src/lib/run/token.js'
import {accountFileName, FileCustodyStore} from '../../../src/lib/store/custody-store.js'
import {FILES, LINKS, snap} from '../../fakes/process-world.js'
import {factsFs, file} from '../../fakes/trust-fs.js'

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

function caller(procs: ProcessSnapshot[], env?: Record<string, string>, rootCaller?: boolean): string {
  try {
    const deps = {env: env ?? {SUDO_UID: '1000'}, pid: SELF, table: world(procs), trustFs: FS}
    const found = findSudoCaller(deps, rootCaller === undefined ? undefined : {rootCaller})
    return `${found.caller.pid}/${found.uid}`
  } catch (error) {
    return (error as {reason?: string}).reason ?? String(error)
  }
}

/** The root launcher asking the user's password: it runs sudo as the user, so sudo's caller is root. */
const ROOT_CALLER = {...CALLER, argv: ['/usr/bin/node'], exe: '/usr/bin/node', uid: 0}

describe('custody: who ran sudo', () => {
  const TABLE: Array<[string, ProcessSnapshot[], Record<string, string> | undefined, boolean | undefined, string]> = [
    ['sudo, then its caller', [CUSTODY, SUDO, CALLER], undefined, undefined, '30/1000'],
    ['use_pty: two sudo processes', [{...CUSTODY, ppid: 45}, MONITOR, SUDO, CALLER], undefined, undefined, '30/1000'],
    ['no SUDO_UID', [CUSTODY, SUDO, CALLER], {}, undefined, 'custody-not-sudo'],
    ['SUDO_UID names another user', [CUSTODY, SUDO, CALLER], {SUDO_UID: '0'}, undefined, 'custody-not-sudo'],
    ['SUDO_UID not a number', [CUSTODY, SUDO, CALLER], {SUDO_UID: '1000 '}, undefined, 'custody-not-sudo'],
    ['parent is not sudo', [{...CUSTODY, ppid: 30}, CALLER], undefined, undefined, 'custody-not-sudo'],
    [
      'a user-owned sudo look-alike',
      [CUSTODY, {...SUDO, exe: '/home/u/sudo'}, CALLER],
      undefined,
      undefined,
      'custody-not-sudo',
    ],
    [
      'the caller runs as another uid',
      [CUSTODY, SUDO, {...CALLER, uid: 1001}],
      undefined,
      undefined,
      'custody-not-sudo',
    ],
    ['the caller is gone', [CUSTODY, SUDO], undefined, undefined, 'custody-caller-untrusted'],
    // rootCaller: only the approve verb accepts it (the root launcher's password prompt for a held run).
    ['a root caller, without rootCaller', [CUSTODY, SUDO, ROOT_CALLER], undefined, undefined, 'custody-not-sudo'],
    ['a root caller, rootCaller false', [CUSTODY, SUDO, ROOT_CALLER], undefined, false, 'custody-not-sudo'],
    ['a root caller, with rootCaller', [CUSTODY, SUDO, ROOT_CALLER], undefined, true, '30/1000'],
    ['a root caller with use_pty', [{...CUSTODY, ppid: 45}, MONITOR, SUDO, ROOT_CALLER], undefined, true, '30/1000'],
    ["the user's own caller, with rootCaller", [CUSTODY, SUDO, CALLER], undefined, true, '30/1000'],
    [
      'rootCaller: a caller of another user',
      [CUSTODY, SUDO, {...CALLER, uid: 1001}],
      undefined,
      true,
      'custody-not-sudo',
    ],
    // sudo run by root itself never authenticated the user SUDO_UID names.
    ['rootCaller: sudo run by root', [CUSTODY, {...SUDO, uid: 0}, ROOT_CALLER], undefined, true, 'custody-not-sudo'],
    [
      'rootCaller: SUDO_UID 0 from a root caller',
      [CUSTODY, SUDO, ROOT_CALLER],
      {SUDO_UID: '0'},
      true,
      'custody-not-sudo',
    ],
  ]
  for (const [name, procs, env, rootCaller, expected] of TABLE) {
    it(`${name} → ${expected}`, () => {
      assert.equal(caller(procs, env, rootCaller), expected)
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
    rotateApis() {
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
  const PAIR = JSON.stringify({
    accessKeyId: 'AKIAAVCANARY0000UNIT',
    profile: 'default',
    secretAccessKey: 'avCanarySecret/u',
  })
  const AUTH = {AV_CUSTODY_AUTHENTICATED: '1', AV_POLICY: '/nonexistent/policy.json', SUDO_UID: '1000'}
  const RUN = 'abcdef0123456789'
  const cases: Array<
    [string, string[], Partial<CustodyDeps> & {input?: string; procs?: ProcessSnapshot[]}, number, RegExp]
  > = [
    ['not root', ['release', '--profile', 'default', '--run', RUN], {euid: 1000}, 126, /refused \(custody-not-sudo\)/],
    ['unknown verb', ['dump'], {}, 2, /refused \(usage\): unknown verb "dump"/],
    ['no verb', [], {}, 2, /refused \(usage\): unknown verb "undefined"/],
    ['mint is gone', ['mint'], {}, 2, /refused \(usage\): unknown verb "mint"/],
    ['a verb named after an Object property', ['constructor'], {}, 2, /refused \(usage\): unknown verb/],
    ['approve through the plain entry', ['approve', 'abcdef'], {}, 126, /refused \(custody-not-authenticated\)/],
    [
      'approve through the plain entry, asked by the root launcher',
      ['approve', 'abcdef'],
      {procs: [CUSTODY, SUDO, ROOT_CALLER]},
      126,
      /refused \(custody-not-authenticated\)/,
    ],
    [
      'a root caller for any verb but approve',
      ['deny', 'abcdef'],
      {procs: [CUSTODY, SUDO, ROOT_CALLER]},
      126,
      /refused \(custody-not-sudo\)/,
    ],
    ...(['store', 'view', 'key-ages', 'remove', 'drop-sessions', 'pending', 'deny', 'release'] as const).map(
      (verb): [string, string[], Partial<CustodyDeps>, number, RegExp] => [
        `the password-guarded entry used for ${verb}`,
        [verb],
        {env: AUTH},
        2,
        new RegExp(`refused \\(usage\\): the -auth entry point serves approve, checkout and rotate only, not ${verb}`),
      ],
    ),
    ['release with no arguments', ['release'], {}, 2, /refused \(usage\): release needs --run <id>/],
    ['release without --run', ['release', '--profile', 'default'], {}, 2, /refused \(usage\): release needs --run/],
    [
      'release without --profile',
      ['release', '--run', RUN],
      {},
      2,
      /refused \(usage\): the profile name is missing or not a plain name/,
    ],
    [
      'release with a run id that is no run id',
      ['release', '--profile', 'default', '--run', '../../etc/x'],
      {},
      2,
      /refused \(usage\): release needs --run <id>/,
    ],
    [
      'release with a profile that is no plain name',
      ['release', '--profile', 'a b', '--run', RUN],
      {},
      2,
      /refused \(usage\): the profile name/,
    ],
    [
      'release with --run given twice',
      ['release', '--profile', 'default', '--run', RUN, '--run', 'abcdef'],
      {},
      2,
      /refused \(usage\): release takes --profile <name> --run <id>/,
    ],
    [
      'release with a stray option',
      ['release', '--profile', 'default', '--token', 'x'],
      {},
      2,
      /refused \(usage\): release takes --profile <name> --run <id>/,
    ],
    ['release with a missing value', ['release', '--profile'], {}, 2, /refused \(usage\): release takes/],
    ['deny without an id', ['deny'], {}, 2, /refused \(usage\): name one request/],
    ['deny with two ids', ['deny', 'abcdef', 'abcdef'], {}, 2, /refused \(usage\): name one request/],
    ['deny with a path for an id', ['deny', '../x'], {}, 2, /refused \(usage\): name one request/],
    [
      'store without a key pair',
      ['store'],
      {},
      2,
      /refused \(usage\): stdin must hold a value, or accessKeyId and secretAccessKey/,
    ],
    ['store a bad profile name', ['store'], {input: '{"profile":"a b"}'}, 2, /refused \(usage\): the profile name/],
    ['checkout through the plain entry', ['checkout', 'default'], {}, 126, /refused \(custody-not-authenticated\)/],
    ['rotate through the plain entry', ['rotate', 'default'], {}, 126, /refused \(custody-not-authenticated\)/],
    [
      'rotate with no profile',
      ['rotate'],
      {env: AUTH},
      2,
      /refused \(usage\): name 1 to 100 profiles: rotate <profile>/,
    ],
    ['rotate a bad profile name', ['rotate', 'a/b'], {env: AUTH}, 2, /refused \(usage\): the profile name/],
    ['key-ages with a stray argument', ['key-ages', 'x'], {}, 2, /refused \(usage\): key-ages takes no argument/],
    ['key-ages --offline twice', ['key-ages', '--offline', '--offline'], {}, 2, /refused \(usage\): key-ages takes/],
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

describe('custody runs and approvals in a root-owned run dir', () => {
  const isRoot = process.getuid?.() === 0
  const skip = !isRoot && 'needs root (root-owned files)'
  const base = mkdtempSync(path.join(tmpdir(), 'av-custody-runs-'))
  chmodSync(base, 0o755)

  after(() => rmSync(base, {force: true, recursive: true}))
  // Process facts from the fake machine, the policy and run dir from real root-owned temp files.
  const MIXED: TrustFs = {
    realpath: (p) => (p in FACTS || p in LINKS ? FS.realpath(p) : realTrustFs.realpath(p)),
    stat: (p) => (p in FACTS || p in LINKS ? FS.stat(p) : realTrustFs.stat(p)),
  }
  const runDir = path.join(base, 'run')
  const policy = path.join(base, 'policy.json')
  const NOW = 1_700_000_000_000
  /** The root launcher that holds a run: a root process the approval is bound to. */
  const LAUNCHER = snap({argv: ['/usr/bin/node'], exe: '/usr/bin/node', pid: 20, startTime: '777', uid: 0})
  const binding = {argvHash: hashArgv(['iam', 'list-users']), launcherPid: 20, launcherStart: '777'}
  const request = {
    category: 'elevated' as const,
    chain: [],
    command: 'aws iam list-users',
    endpoint: null,
    profile: 'dev',
    reason: 'session credentials cannot call IAM',
    rule: 'iam list-users',
  }

  function setUp(): RunStore {
    if (!statSync(policy, {throwIfNoEntry: false})) {
      mkdirSync(path.join(base, 'custody'), {mode: 0o700})
      writeFileSync(
        policy,
        JSON.stringify({custody: {dir: path.join(base, 'custody'), entry: '/opt/av/libexec/av-custody', runDir}}),
        {mode: 0o644},
      )
    }

    return new RunStore(runDir, 1000)
  }

  const entry = (over: Partial<CustodyDeps> & {auth?: boolean; procs?: ProcessSnapshot[]}) =>
    deps({
      clock: {now: () => NOW},
      env: {...(over.auth ? {AV_CUSTODY_AUTHENTICATED: '1'} : {}), AV_POLICY: policy, SUDO_UID: '1000'},
      procs: over.procs ?? [CUSTODY, SUDO, CALLER, LAUNCHER],
      trustFs: MIXED,
      ...over,
    })

  it('release from a shell, naming a run root has no record of → run-unknown', {skip}, async () => {
    setUp()
    const {d, err, out} = entry({})
    assert.equal(await custodyMain(['release', '--profile', 'default', '--run', 'abcdef0123456789'], d), 126)
    assert.deepEqual(out, [])
    assert.match(err.join(''), /refused \(run-unknown\)/)
  })

  it("release from a shell, naming a live run → the shell is not that run's AWS CLI", {skip}, async () => {
    const runs = setUp()
    const {id} = runs.createRun()
    runs.writeRecord({
      ...binding,
      cliArgvHash: hashArgv(['/usr/bin/python3', '-I', '/usr/bin/aws', 'iam', 'list-users']),
      elevated: true,
      expires: NOW + 60_000,
      id,
      profile: 'dev',
      runtimeExe: '/usr/bin/python3.11',
      uid: 1000,
      userConfigFile: '/home/u/.aws/config',
      v: 1,
    })
    try {
      const {d, err, out} = entry({})
      assert.equal(await custodyMain(['release', '--profile', 'dev', '--run', id], d), 126)
      assert.deepEqual(out, [])
      assert.match(err.join(''), /refused \(parent-not-runtime\)/)
    } finally {
      runs.removeRun(id)
    }
  })

  it(
    'approve through the -auth entry from the root launcher records the approval for that run; a later deny conflicts',
    {skip},
    async () => {
      const runs = setUp()
      const pending = runs.createPending({binding, created: NOW, elevated: true, expires: NOW + 60_000, request})
      try {
        const listed = entry({})
        assert.equal(await custodyMain(['pending'], listed.d), 0, listed.err.join(''))
        assert.deepEqual(JSON.parse(listed.out.join('')), {
          pending: [{elevated: true, expires: NOW + 60_000, id: pending.id, request}],
        })

        const approved = entry({auth: true, procs: [CUSTODY, SUDO, ROOT_CALLER, LAUNCHER]})
        assert.equal(await custodyMain(['approve', pending.id], approved.d), 0, approved.err.join(''))
        assert.deepEqual(approved.out, [`approved ${pending.id}: aws iam list-users\n`])
        assert.deepEqual(runs.readAnswer(pending.id), {
          answer: 'approved',
          at: NOW,
          binding,
          byPid: ROOT_CALLER.pid,
          id: pending.id,
          v: 1,
        })

        const denied = entry({})
        assert.equal(await custodyMain(['deny', pending.id], denied.d), 126)
        assert.match(denied.err.join(''), /failed \(conflict\): request \w+ was already answered/)
        assert.equal(runs.readAnswer(pending.id)?.answer, 'approved')
      } finally {
        runs.removePending(pending.id)
      }
    },
  )

  it('deny or approve of a request whose launcher is gone (pid reused) → not found', {skip}, async () => {
    const runs = setUp()
    const pending = runs.createPending({binding, created: NOW, elevated: false, expires: NOW + 60_000, request})
    try {
      const reused = {...LAUNCHER, startTime: '778'}
      const denied = entry({procs: [CUSTODY, SUDO, CALLER, reused]})
      assert.equal(await custodyMain(['deny', pending.id], denied.d), 125)
      assert.match(denied.err.join(''), /failed \(not-found\): the run that asked for \w+ is gone/)
      const approved = entry({auth: true, procs: [CUSTODY, SUDO, CALLER]})
      assert.equal(await custodyMain(['approve', pending.id], approved.d), 125)
      assert.match(approved.err.join(''), /failed \(not-found\)/)
      assert.equal(runs.readAnswer(pending.id), null)
    } finally {
      runs.removePending(pending.id)
    }
  })
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
      await store.set('audit-head', 'h1', {durable: false})
      await store.set('audit-head', 'h2', {durable: false})
      assert.equal(await store.get('audit-head'), 'h2', 'unflushed, still replaced whole')
      await store.delete('audit-head')
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
      await new FileCustodyStore(dir).set('aws:dev', 'v')
      // Each store checks the path once (only root can change a path that is root's all the way): a new one here.
      chmodSync(dir, 0o755)
      await assert.rejects(new FileCustodyStore(dir).get('aws:dev'), /readable by others/)
      chmodSync(dir, 0o700)
      chownSync(dir, 1000, 1000)
      const store = new FileCustodyStore(dir)
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
  const BASE = {dir: '/var/lib/av/custody', entry: '/opt/av/libexec/av-custody'}
  const full = {
    ...BASE,
    approvalTimeoutSeconds: 300,
    awsCli: ['/opt/av/libexec/python3', '-I', '/usr/bin/aws'],
    launch: '/opt/av/libexec/av-launch',
    runDir: '/run/av',
  }
  const TABLE: Array<[string, unknown, null | Record<string, unknown>]> = [
    ['entry and dir', BASE, BASE],
    ['every optional key', full, full],
    ['a relative dir', {dir: 'rel', entry: '/x'}, null],
    ['a relative entry', {...BASE, entry: 'av-custody'}, null],
    ['a relative launch', {...BASE, launch: 'av-launch'}, null],
    ['a relative runDir', {...BASE, runDir: 'run/av'}, null],
    ['an empty awsCli', {...BASE, awsCli: []}, null],
    ['an awsCli run through PATH', {...BASE, awsCli: ['python3', '/usr/bin/aws']}, null],
    ['an approval timeout under 5 s', {...BASE, approvalTimeoutSeconds: 4}, null],
    ['an approval timeout over an hour', {...BASE, approvalTimeoutSeconds: 3601}, null],
    ['an approval timeout that is no integer', {...BASE, approvalTimeoutSeconds: 7.5}, null],
    ['not an object', 'custody', null],
  ]
  for (const [name, custody, expected] of TABLE) {
    it(`${name} → ${expected ? 'accepted' : 'the whole policy refused'}`, () => {
      const {policy, problems} = validatePolicy({custody})
      if (expected) {
        assert.deepEqual(problems, [])
        assert.deepEqual(policy?.custody, expected)
      } else {
        assert.equal(policy, undefined)
        assert.equal(problems.length, 1)
        assert.match(problems[0]!, /^custody must be \{"entry": "\/absolute\/path", "dir": "\/absolute\/path"\}/)
      }
    })
  }
})
