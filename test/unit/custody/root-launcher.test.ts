// The root launcher (custody mode) with a fake world: root classifies the argv itself, so a held command never
// runs without an approval, whatever the user's side (environment, ~/.config/av decisions, ~/.aws/config) claims;
// an allowed one runs as the user, sealed, bound to a run record the release verb checks the CLI against.
import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'

import type {AuditEvent} from '../../../src/lib/audit/audit.js'
import type {ProcessSnapshot, ProcessTable} from '../../../src/lib/core/process-table.js'
import type {FileFacts} from '../../../src/lib/core/trust.js'
import type {RootApprovalInput, RootLaunchDeps} from '../../../src/lib/custody/root-launcher.js'
import type {ApprovalAnswer, ParsedArgv} from '../../../src/lib/gate/types.js'

import {AvError, exitCodeOf} from '../../../src/lib/core/errors.js'
import {type CustodyPolicy, DEFAULT_POLICY, type Policy} from '../../../src/lib/core/policy.js'
import {launchAsRoot, launchEnv} from '../../../src/lib/custody/root-launcher.js'
import {type RunRecord, verifyRunCaller} from '../../../src/lib/custody/run-record.js'
import {classifyArgv} from '../../../src/lib/gate/classify.js'
import {pinInputFile} from '../../../src/lib/run/launcher.js'
import {hashArgv} from '../../../src/lib/run/token.js'
import {FakeChild} from '../../fakes/fake-child.js'
import {fakePrewarmed} from '../../fakes/fake-prewarmed.js'
import {MemoryRunStore} from '../../fakes/memory-run-store.js'
import {FILES, LINKS, snap} from '../../fakes/process-world.js'
import {dir as dirFacts, factsFs, file} from '../../fakes/trust-fs.js'
import {catalogCases, GATE_TABLES, gateInputs, words} from '../gate/gate-cases.js'

const NOW = 1_800_000_000_000
const CANARY_KEY = 'AKIAAVCANARY0000ROOT'
const CANARY_SECRET = 'avCanarySecret/rootLauncher+0000000000000'
const ENTRY = '/opt/av/libexec/av-custody'
/** The interpreter copy users may execute but not read (0711): the CLI runs non-dumpable. */
const CUSTODY_CLI = ['/opt/av/libexec/python3', '-I', '/usr/bin/aws']
const FACTS: Record<string, FileFacts> = {
  ...FILES,
  '/opt/av/libexec': dirFacts(0),
  '/opt/av/libexec/python3': file(0, 0o711),
  '/usr/bin/sudo': file(0, 0o4755),
}
const TRUST_FS = factsFs(FACTS, LINKS)
const USER = {gid: 1001, uid: 1000}

const base = mkdtempSync(path.join(tmpdir(), 'av-root-launcher-'))
after(() => rmSync(base, {force: true, recursive: true}))
const {env: inputsEnv, home} = gateInputs(base)
// The user's own ~/.aws/config, read with the user's rights: settings to copy, and a key that must stay out.
mkdirSync(path.join(home, '.aws'))
writeFileSync(
  path.join(home, '.aws', 'config'),
  `[profile dev]\nregion = eu-west-1\naws_access_key_id = ${CANARY_KEY}\naws_secret_access_key = ${CANARY_SECRET}\n` +
    `[default]\nregion = us-east-1\ncredential_process = /home/u/steal\n`,
)

/** root launcher (50, root) ← sudo (40, ruid 1000) ← the user's shell (30). */
const LAUNCHER = snap({argv: ['/usr/bin/node'], exe: '/usr/bin/node', pid: 50, ppid: 40, startTime: '777', uid: 0})
const SUDO = snap({argv: ['/usr/bin/sudo'], exe: '/usr/bin/sudo', pid: 40, ppid: 30, uid: 1000})
const SHELL = snap({argv: ['/usr/bin/bash'], exe: '/usr/bin/bash', pid: 30, ppid: 1, uid: 1000})

function processTable(procs: ProcessSnapshot[]): ProcessTable {
  const byPid = new Map(procs.map((p) => [p.pid, p]))
  return {environ: () => ({}), snapshot: (pid) => byPid.get(pid) ?? null}
}

/** What the user's side sends along: a forged token, keys, "approved" flags. None of it may reach the CLI. */
const CLAIMING_ENV: NodeJS.ProcessEnv = {
  AV_APPROVED: '1',
  AV_CUSTODY_AUTHENTICATED: '1',
  AV_RUN_TOKEN: 'forged.token',
  AWS_ACCESS_KEY_ID: CANARY_KEY,
  AWS_SECRET_ACCESS_KEY: CANARY_SECRET,
  AWS_SESSION_TOKEN: `${CANARY_SECRET}-session`,
  LANG: 'C.UTF-8',
  SUDO_UID: '1000',
  TERM: 'xterm',
}
/** The user's ~/.config/av/config.json trying to loosen every held category: it may only tighten. */
const LOOSENING_USER_DECISIONS = Object.fromEntries(
  ['confidence:low', 'credential', 'debug', 'decrypted-secret', 'elevated', 'signed-url', 'transport', 'unknown'].map(
    (c) => [c, 'allow' as const],
  ),
)

interface Harness {
  approvals: RootApprovalInput[]
  deps: RootLaunchDeps
  events: Array<AuditEvent & {uid: number}>
  /** The parse root's gate made of the last argv (pinned --cli-input-* files come from it). */
  parsed: () => ParsedArgv | undefined
  /** Each prefetchAsUser call's files. */
  prefetched: string[][]
  runs: MemoryRunStore
  spawned: Array<{
    argv: string[]
    config: string | undefined
    options: {cwd: string; env: Record<string, string>; gid: number; uid: number}
  }>
  stderr: string[]
}

function harness(
  options: {
    answer?: ApprovalAnswer
    custody?: Partial<CustodyPolicy>
    euid?: number
    exitCode?: number
    policy?: Policy
    procs?: ProcessSnapshot[]
    onSpawn?: (argv: string[], runs: MemoryRunStore) => void
  } = {},
): Harness {
  const approvals: RootApprovalInput[] = []
  const events: Harness['events'] = []
  const spawned: Harness['spawned'] = []
  const stderr: string[] = []
  const prefetched: string[][] = []
  const runs = new MemoryRunStore(path.join(base, 'run'), USER.uid)
  let parsed: ParsedArgv | undefined
  const policy: Policy = {
    ...(options.policy ?? DEFAULT_POLICY),
    awsCli: ['/usr/bin/python3', '-I', '/usr/bin/aws'],
    custody: {
      awsCli: CUSTODY_CLI,
      dir: '/var/lib/av/custody',
      entry: ENTRY,
      runDir: path.join(base, 'run'),
      ...options.custody,
    },
  }
  const deps: RootLaunchDeps = {
    account: (uid) => ({...USER, home, name: 'u', uid}),
    async approve(input) {
      approvals.push(input)
      return options.answer ?? 'denied'
    },
    audit: (uid) => ({
      async record(event) {
        events.push({...event, uid})
      },
    }),
    // The real gate; the table's `$INPUTS` is a variable of the user's shell, which the gate reads file:// paths with.
    classify(argv, d) {
      const result = classifyArgv(argv, {...d, env: {...d.env, INPUTS: inputsEnv.INPUTS}})
      parsed = result.parsed
      return result
    },
    clock: {now: () => NOW},
    cwd: base,
    env: CLAIMING_ENV,
    euid: options.euid ?? 0,
    loadPolicy: () => ({policy, warnings: []}),
    pid: LAUNCHER.pid,
    prefetchAsUser(_user, files) {
      prefetched.push(files)
    },
    readAsUser(_user, name) {
      try {
        return readFileSync(name)
      } catch {
        return null
      }
    },
    runs(runDir, uid) {
      assert.deepEqual([runDir, uid], [path.join(base, 'run'), USER.uid])
      return runs
    },
    signalReachedChild: () => false,
    signals: {on() {}, removeListener() {}},
    spawnAsUser(argv, spawnOptions) {
      const config = runs.configs.get(spawnOptions.env.HOME!)
      spawned.push({argv, config, options: spawnOptions})
      options.onSpawn?.(argv, runs)
      const child = new FakeChild()
      setImmediate(() => child.exit(options.exitCode ?? 0))
      return child.child
    },
    stderr: {write: (text) => stderr.push(text)},
    table: processTable(options.procs ?? [LAUNCHER, SUDO, SHELL]),
    trustFs: TRUST_FS,
    userDecisions: () => ({decisions: LOOSENING_USER_DECISIONS, warnings: []}),
  }
  return {approvals, deps, events, parsed: () => parsed, prefetched, runs, spawned, stderr}
}

/** How a launch ended: the exit code and, for a refusal, its reason; for another failure, its code. */
async function outcome(argv: string[], deps: RootLaunchDeps): Promise<string> {
  try {
    return `exit ${await launchAsRoot(argv, deps)}`
  } catch (error) {
    if (error instanceof AvError && error.refusal) return `refused ${error.reason} ${error.exit}`
    if (error instanceof AvError) return `${error.code} ${exitCodeOf(error)}`
    throw error
  }
}

function assertNoSecrets(h: Harness): void {
  const seen = JSON.stringify([h.spawned, h.stderr, h.events, [...h.runs.records.values()]])
  for (const secret of [CANARY_KEY, CANARY_SECRET, 'forged.token', '/home/u/steal']) {
    assert.ok(!seen.includes(secret), `${secret} leaked`)
  }
}

interface Row {
  argv: string[]
  expected: string
  held: boolean
  policy?: Policy
}

const ROWS: Row[] = [
  ...GATE_TABLES.flatMap(({cases, policy}) =>
    cases.map(([line, decision, category]) => ({
      argv: words(line),
      expected: decision,
      held: decision !== 'allow' || category === 'elevated',
      policy,
    })),
  ),
  ...catalogCases().map(({argv, decision}) => ({argv, expected: decision, held: decision !== 'allow'})),
]

describe('root refuses every held argv that comes without an approval record, whatever the user side claims', () => {
  for (const {argv, expected, held, policy} of ROWS) {
    const title = `${argv.join(' ')} → ${held ? `${expected}: refused (126), never started` : 'started once, as the user, sealed'}`
    it(title, async () => {
      for (const answer of ['denied', 'unavailable'] as const) {
        const h = harness({answer, exitCode: 3, policy})
        const result = await outcome(argv, h.deps) // eslint-disable-line no-await-in-loop
        assertNoSecrets(h)
        if (held) {
          assert.equal(result, 'denied 126', `${answer}: ${h.stderr.join('')}`)
          assert.deepEqual(h.spawned, [])
          assert.deepEqual(h.runs.calls, [])
          const gate = h.events.at(-1)
          assert.equal(gate?.event, 'gate')
          if (expected === 'deny') {
            assert.deepEqual(h.approvals, [])
            assert.deepEqual([gate?.decision, gate?.answer], ['deny', null])
          } else {
            assert.equal(h.approvals.length, 1)
            assert.deepEqual([gate?.decision, gate?.answer], ['approve', answer])
          }

          continue
        }

        assert.equal(result, 'exit 3', h.stderr.join(''))
        assert.deepEqual(h.approvals, [])
        assert.equal(h.spawned.length, 1)
        const [{argv: cliArgv, config, options}] = h.spawned as [Harness['spawned'][0]]
        assert.deepEqual([options.uid, options.gid], [USER.uid, USER.gid])
        assert.deepEqual(cliArgv, [...CUSTODY_CLI, ...pinInputFile(argv.slice(1), h.parsed()!.inputFile)])
        const names = Object.keys(options.env)
        for (const name of ['AV_RUN_TOKEN', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) {
          assert.ok(!names.includes(name), `${name} in the CLI's environment`)
        }

        assert.equal(options.env.AWS_SHARED_CREDENTIALS_FILE, '/dev/null')
        assert.equal(options.env.AWS_CONFIG_FILE, `${options.env.HOME}/.aws/config`)
        assert.match(config ?? '', new RegExp(`credential_process = /usr/bin/sudo -n ${ENTRY} release --profile `))
        // The run is over: its record and HOME are gone.
        assert.deepEqual([h.runs.records.size, h.runs.homes.size], [0, 0])
        assert.deepEqual(
          h.events.map((e) => [e.event, e.uid]),
          [
            ['gate', USER.uid],
            ['run', USER.uid],
          ],
        )
      }
    })
  }
})

describe('root launcher: approvals', () => {
  it('an approved held command starts once; the approval was asked for this run (launcher pid, start, argv)', async () => {
    const argv = words('aws secretsmanager get-secret-value --secret-id x --profile dev')
    const policy = {...DEFAULT_POLICY, approvers: ['gui' as const, {program: '/usr/local/libexec/approver'}]}
    const h = harness({answer: 'approved', custody: {approvalTimeoutSeconds: 30}, policy})
    assert.equal(await outcome(argv, h.deps), 'exit 0', h.stderr.join(''))
    assert.equal(h.spawned.length, 1)
    assert.deepEqual(h.spawned[0]!.argv, [...CUSTODY_CLI, ...argv.slice(1)])
    assert.equal(h.approvals.length, 1)
    const [{binding, elevated, request, timeoutMs, user}] = h.approvals as [RootApprovalInput]
    assert.deepEqual(binding, {argvHash: hashArgv(argv.slice(1)), launcherPid: 50, launcherStart: '777'})
    assert.equal(elevated, false)
    assert.equal(timeoutMs, 30_000)
    assert.equal(user.uid, USER.uid)
    assert.deepEqual(
      {category: request.category, chain: request.chain, command: request.command, profile: request.profile},
      {
        category: 'decrypted-secret',
        chain: [{name: 'bash', pid: 30}],
        command: 'aws secretsmanager get-secret-value --secret-id x --profile dev',
        profile: 'dev',
      },
    )
    assert.deepEqual(
      h.events.map((e) => [e.event, e.answer]),
      [
        ['gate', 'approved'],
        ['run', undefined],
      ],
    )
  })

  const ELEVATED: Array<[string, string, Partial<Policy>]> = [
    ['elevated by category', 'aws iam list-users', {}],
    ['elevated under a stricter category', 'aws iam create-access-key --user-name u', {}],
    ['allowed by the root policy, still elevated', 'aws iam list-users', {decisions: {elevated: 'allow'}}],
  ]
  for (const [name, line, over] of ELEVATED) {
    it(`${name}: ${line} with a program approver → approve is asked with elevated=true`, async () => {
      const policy = {...DEFAULT_POLICY, approvers: [{program: '/usr/local/libexec/approver'}], ...over}
      const denied = harness({answer: 'denied', policy})
      assert.equal(await outcome(words(line), denied.deps), 'denied 126')
      assert.deepEqual(
        denied.approvals.map((a) => a.elevated),
        [true],
      )
      assert.deepEqual(denied.spawned, [])
      const approved = harness({answer: 'approved', policy})
      assert.equal(await outcome(words(line), approved.deps), 'exit 0', approved.stderr.join(''))
      assert.equal(approved.spawned.length, 1)
    })
  }

  it('an approved elevated run is recorded as elevated (the release verb hands it the durable key)', async () => {
    let elevated: boolean | undefined
    const h = harness({
      answer: 'approved',
      onSpawn(_argv, runs) {
        elevated = [...runs.records.values()][0]?.elevated
      },
    })
    assert.equal(await outcome(words('aws iam list-users'), h.deps), 'exit 0')
    assert.equal(elevated, true)
  })
})

describe('root launcher: refused before the gate', () => {
  const CASES: Array<[string, string[], Parameters<typeof harness>[0], Partial<RootLaunchDeps>, string]> = [
    ['not root', words('aws s3 ls'), {euid: 1000}, {}, 'refused custody-not-sudo 126'],
    ['a program other than aws', ['sh', '-c', 'aws s3 ls'], {}, {}, 'usage 2'],
    ['aws by a path', ['/usr/bin/aws', 's3', 'ls'], {}, {}, 'usage 2'],
    ['nothing to run', [], {}, {}, 'usage 2'],
    ['not through sudo', words('aws s3 ls'), {}, {env: {}}, 'refused custody-not-sudo 126'],
    [
      'sudo by another user',
      words('aws s3 ls'),
      {procs: [LAUNCHER, {...SUDO, uid: 1001}, SHELL]},
      {},
      'refused custody-not-sudo 126',
    ],
    [
      'no custody in the policy',
      words('aws s3 ls'),
      {},
      {loadPolicy: () => ({policy: DEFAULT_POLICY, warnings: []})},
      'refused 126',
    ],
    [
      'a user-owned AWS CLI in the policy',
      words('aws s3 ls'),
      {},
      {
        loadPolicy: () => ({
          policy: {...DEFAULT_POLICY, custody: {awsCli: ['/home/u/python3', '/usr/bin/aws'], dir: '/d', entry: ENTRY}},
          warnings: [],
        }),
      },
      'runtime-untrusted 126',
    ],
  ]
  for (const [name, argv, options, over, expected] of CASES) {
    it(`${name} → ${expected}`, async () => {
      const h = harness(options)
      Object.assign(h.deps, over)
      assert.equal(await outcome(argv, h.deps), expected)
      assert.deepEqual([h.spawned, h.approvals, h.runs.calls, h.events], [[], [], [], []])
    })
  }
})

describe('root launcher: the user files it reads', () => {
  it('reads the AWS config, the alias file and av settings as the user in one go, before the gate', async () => {
    const h = harness()
    assert.equal(await launchAsRoot(words('aws s3 ls --profile dev'), h.deps), 0)
    assert.deepEqual(h.prefetched, [
      [
        path.join(home, '.aws', 'config'),
        path.join(home, '.aws', 'cli', 'alias'),
        path.join(home, '.config', 'av', 'config.json'),
      ],
    ])
  })
})

describe('root launcher: the run record binds the CLI to this launcher', () => {
  it('verifyRunCaller accepts the CLI the launcher started, and no other process with the same argv', async () => {
    const argv = words('aws s3 ls --profile dev')
    const verdicts: Record<string, string> = {}
    let record: RunRecord | undefined
    const h = harness({
      onSpawn(cliArgv, runs) {
        const [live] = [...runs.records.values()]
        record = live
        const cli = snap({argv: cliArgv, exe: CUSTODY_CLI[0], pid: 60, ppid: LAUNCHER.pid, startTime: '800'})
        const verdict = (name: string, facts: {cli: ProcessSnapshot; launcher: null | ProcessSnapshot}) => {
          const v = verifyRunCaller({...facts, now: NOW, profile: 'dev', record: runs.readRecord(live!.id), uid: 1000})
          verdicts[name] = v.ok ? 'ok' : v.reason
        }

        verdict('the CLI', {cli, launcher: LAUNCHER})
        verdict('a sibling the user started with the same argv', {
          cli: {...cli, pid: 61, ppid: SHELL.pid},
          launcher: SHELL,
        })
        verdict('the launcher pid reused', {cli, launcher: {...LAUNCHER, startTime: '778'}})
        verdict('the same runtime, other arguments', {cli: {...cli, argv: [...cliArgv, '--debug']}, launcher: LAUNCHER})
      },
    })
    assert.equal(await outcome(argv, h.deps), 'exit 0', h.stderr.join(''))
    assert.deepEqual(verdicts, {
      'a sibling the user started with the same argv': 'grandparent-not-launcher',
      'the CLI': 'ok',
      'the launcher pid reused': 'launcher-start-mismatch',
      'the same runtime, other arguments': 'argv-mismatch',
    })
    const [{argv: cliArgv, config, options}] = h.spawned as [Harness['spawned'][0]]
    const id = record?.id
    assert.deepEqual(record, {
      argvHash: hashArgv(argv.slice(1)),
      cliArgvHash: hashArgv(cliArgv),
      elevated: false,
      expires: NOW + 12 * 60 * 60 * 1000,
      id,
      launcherPid: 50,
      launcherStart: '777',
      profile: 'dev',
      runtimeExe: CUSTODY_CLI[0],
      uid: 1000,
      userConfigFile: path.join(home, '.aws', 'config'),
      v: 1,
    })
    const runHome = path.join(base, 'run', '1000', `home-${id}`)
    // The whole environment: the launch variables' allowlist and av's fixed settings; no token, no key.
    assert.deepEqual(options.env, {
      AWS_CLI_AUTO_PROMPT: 'off',
      AWS_CONFIG_FILE: `${runHome}/.aws/config`,
      AWS_EC2_METADATA_DISABLED: 'true',
      LESSSECURE: '1',
      AWS_PAGER: '',
      AWS_PROFILE: 'dev',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      HOME: runHome,
      LANG: 'C.UTF-8',
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      TERM: 'xterm',
    })
    assert.equal(options.cwd, base)
    // The profile's allowlisted settings and root's release line; the user's keys and credential_process stay out.
    assert.equal(
      config,
      `[profile dev]\nregion = eu-west-1\ncredential_process = /usr/bin/sudo -n ${ENTRY} release --profile dev --run ${id}\n`,
    )
    assert.deepEqual(h.runs.calls, [`createRun ${id}`, 'writeConfig', `writeRecord ${id}`, `removeRun ${id}`])
  })
})

describe('launchEnv', () => {
  it('keeps the launch variables sudo passes on, nothing else', () => {
    assert.deepEqual(launchEnv({...CLAIMING_ENV, AWS_PROFILE: 'dev', PATH: '/home/u/bin', LC_ALL: 'C'}), {
      AWS_PROFILE: 'dev',
      LANG: 'C.UTF-8',
      LC_ALL: 'C',
      TERM: 'xterm',
    })
  })
})

/** A waiting interpreter (run/prewarm.ts) as the entry left it: what root sends it, and how it is ended. */
const waiting = (runtime: string[] = CUSTODY_CLI, ids: {gid: number; uid: number} = USER) => fakePrewarmed(runtime, ids)

describe('root launcher: the CLI interpreter that waits while root decides (prewarm)', () => {
  it('an allowed run is handed to it, argv and sealed environment on one line; nothing else is started', async () => {
    const h = harness()
    const w = waiting()
    h.deps.prewarmed = w.prewarmed
    const argv = ['aws', 'sts', 'get-caller-identity', '--profile', 'dev']
    const verdicts: string[] = []
    h.deps.serveReleases = (_dir, run) => {
      const record = h.runs.readRecord(run.id)
      const cli = snap({argv: w.prewarmed.argv, exe: CUSTODY_CLI[0], pid: 60, ppid: LAUNCHER.pid, startTime: '800'})
      for (const facts of [
        {cli, launcher: LAUNCHER},
        {cli: {...cli, argv: [...CUSTODY_CLI, ...argv.slice(1)]}, launcher: LAUNCHER},
      ]) {
        const v = verifyRunCaller({...facts, now: NOW, profile: 'dev', record, uid: 1000})
        verdicts.push(v.ok ? 'ok' : v.reason)
      }

      return {stop() {}}
    }

    assert.equal(await outcome(argv, h.deps), 'exit 4', h.stderr.join(''))
    assert.deepEqual(h.spawned, [])
    assert.deepEqual(w.child.kills, [])
    // The release accepts the waiting process by its own argv, and a CLI with the run's argv no more.
    assert.deepEqual(verdicts, ['ok', 'argv-mismatch'])
    assert.equal(w.sent.length, 1)
    assert.ok(w.sent[0]!.endsWith('}\n') && !w.sent[0]!.slice(0, -1).includes('\n'))
    const go = JSON.parse(w.sent[0]!) as {argv: string[]; env: Record<string, string>}
    assert.deepEqual(go.argv, ['/usr/bin/aws', 'sts', 'get-caller-identity', '--profile', 'dev'])
    assert.equal(go.env.AWS_SHARED_CREDENTIALS_FILE, '/dev/null')
    assert.equal(go.env.AWS_PROFILE, 'dev')
    for (const name of ['AV_RUN_TOKEN', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) {
      assert.ok(!(name in go.env), `${name} in the CLI's environment`)
    }

    assertNoSecrets(h)
    assert.ok(!w.sent[0]!.includes(CANARY_SECRET) && !w.sent[0]!.includes('forged.token'))
  })

  for (const [name, argv, answer] of [
    ['denied by the gate', ['aws', 'iam', 'create-access-key'], undefined],
    [
      'held, and the password was not given',
      ['aws', 'secretsmanager', 'get-secret-value', '--secret-id', 'x'],
      'denied',
    ],
    [
      'held, and no approval came in time',
      ['aws', 'ssm', 'get-parameter', '--name', 'p', '--with-decryption'],
      'timeout',
    ],
  ] as const) {
    it(`${name}: it is killed having been sent nothing`, async () => {
      const h = harness({answer: answer as ApprovalAnswer | undefined})
      const w = waiting()
      h.deps.prewarmed = w.prewarmed
      assert.equal(await outcome([...argv], h.deps), 'denied 126')
      assert.deepEqual([w.sent, w.child.kills, h.spawned], [[], ['SIGKILL'], []])
    })
  }

  it('a refusal before the gate (the caller is not a sudo user) kills it too', async () => {
    const h = harness({procs: [LAUNCHER, {...SUDO, exe: '/usr/bin/bash'}, SHELL]})
    const w = waiting()
    h.deps.prewarmed = w.prewarmed
    assert.match(await outcome(['aws', 'sts', 'get-caller-identity'], h.deps), /^refused /)
    assert.deepEqual([w.sent, w.child.kills], [[], ['SIGKILL']])
  })

  for (const [name, w] of [
    ['it waits for another runtime (the policy changed since)', waiting(['/usr/bin/python3', '-I', '/usr/bin/aws'])],
    ['it runs as another uid', waiting(CUSTODY_CLI, {gid: USER.gid, uid: 1002})],
    ['it runs as another gid', waiting(CUSTODY_CLI, {gid: 0, uid: USER.uid})],
  ] as const) {
    it(`${name}: it is killed unused and the CLI is started as before`, async () => {
      const h = harness({exitCode: 5})
      h.deps.prewarmed = w.prewarmed
      assert.equal(await outcome(['aws', 'sts', 'get-caller-identity', '--profile', 'dev'], h.deps), 'exit 5')
      assert.deepEqual([w.sent, w.child.kills], [[], ['SIGKILL']])
      assert.deepEqual(h.spawned[0]?.argv, [...CUSTODY_CLI, 'sts', 'get-caller-identity', '--profile', 'dev'])
    })
  }

  it('one that already ended is not used', async () => {
    const h = harness()
    const w = waiting()
    w.child.exit(125)
    h.deps.prewarmed = w.prewarmed
    assert.equal(await outcome(['aws', 'sts', 'get-caller-identity', '--profile', 'dev'], h.deps), 'exit 0')
    assert.deepEqual([w.sent, w.child.kills, h.spawned.length], [[], [], 1])
  })
})
