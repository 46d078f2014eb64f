import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'

import type {AuditEvent} from '../../src/lib/audit/audit.js'
import type {ApprovalAnswer, ApprovalRequest, GateDecision} from '../../src/lib/gate/types.js'
import type {Context} from '../../src/lib/world/context.js'

import {AvError, EXIT} from '../../src/lib/core/errors.js'
import {DEFAULT_POLICY} from '../../src/lib/core/policy.js'
import {classifyArgv} from '../../src/lib/gate/classify.js'
import {type LauncherDeps, runAws, TOKEN_LIFETIME_MS} from '../../src/lib/run/launcher.js'
import {prewarmArgv} from '../../src/lib/run/prewarm.js'
import {hashArgv, mintToken, type TokenClaims, verifyToken} from '../../src/lib/run/token.js'
import {fakePrewarmed} from '../fakes/fake-prewarmed.js'
import {MemoryStore} from '../fakes/memory-store.js'

const root = mkdtempSync(path.join(tmpdir(), 'av-launcher-test-'))

/** A stand-in AWS CLI: `aws <report-file> <script>` records what it saw, then runs the script. */
const FAKE_CLI = path.join(root, 'fake-aws.sh')
writeFileSync(
  FAKE_CLI,
  [
    'out="$1"; shift',
    '{ echo "HOME=$HOME"; echo "PWD-HOME-MODE=$(stat -c %a "$HOME")"; echo "CONFIG-MODE=$(stat -c %a "$AWS_CONFIG_FILE")";',
    '  echo "--- config"; cat "$AWS_CONFIG_FILE"; echo "--- env"; env | sort; } > "$out"',
    'eval "$1"',
  ].join('\n'),
)

const KEY = Buffer.alloc(32, 7)
const START = '4242'
const CANARY = 'avCanarySecretZZZZZZZZZZZZZZZZZZZZZZZZZ'

/** The launcher's signal seam: tests deliver signals by calling `emit`. */
class FakeSignals {
  private readonly listeners = new Map<NodeJS.Signals, Set<(signal: NodeJS.Signals) => void>>()

  count(signal: NodeJS.Signals): number {
    return this.listeners.get(signal)?.size ?? 0
  }

  emit(signal: NodeJS.Signals): void {
    for (const listener of this.listeners.get(signal) ?? []) listener(signal)
  }

  on(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): void {
    this.listeners.set(signal, (this.listeners.get(signal) ?? new Set()).add(listener))
  }

  removeListener(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): void {
    this.listeners.get(signal)?.delete(listener)
  }
}

async function waitForFile(file: string): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!existsSync(file) && Date.now() < deadline) {
    // eslint-disable-next-line no-await-in-loop -- polling for the fake CLI to be ready
    await new Promise((resolve) => {
      setTimeout(resolve, 20)
    })
  }
}

interface Harness {
  approvals: ApprovalRequest[]
  deps: LauncherDeps
  events: AuditEvent[]
  home: string
  runtimeDir: string
  signals: FakeSignals
  spawned: string[][]
  stderr: string[]
}

function harness(
  options: {
    answer?: ApprovalAnswer
    decision?: Partial<GateDecision>
    env?: NodeJS.ProcessEnv
    userConfig?: string
  } = {},
): Harness {
  const dir = mkdtempSync(path.join(root, 'case-'))
  const runtimeDir = path.join(dir, 'runtime')
  const home = path.join(dir, 'home')
  for (const d of [runtimeDir, home]) mkdirSync(d, {mode: 0o700})
  const events: AuditEvent[] = []
  const stderr: string[] = []
  const approvals: ApprovalRequest[] = []
  const spawned: string[][] = []
  const signals = new FakeSignals()
  const env = {AWS_SECRET_ACCESS_KEY: CANARY, PATH: '/usr/bin', XDG_RUNTIME_DIR: runtimeDir, ...options.env}
  const ctx: Context = {
    audit: {
      async record(event) {
        events.push(event)
      },
    },
    clock: {now: () => 1_800_000_000_000},
    env,
    euid: 1000,
    home,
    interactive: false,
    platform: 'linux',
    policy: () => ({policy: DEFAULT_POLICY, source: null, warnings: []}),
    stderr: {
      write(t) {
        stderr.push(t)
      },
    },
    stdout: {write() {}},
    stdoutIsTerminal: false,
    store: new MemoryStore(),
    tmpdir: dir,
    uid: 1000,
  }
  const deps: LauncherDeps = {
    async approve(request) {
      approvals.push(request)
      return options.answer ?? 'unavailable'
    },
    avEntry: '/opt/av/lib/av/bin/run.js',
    // Launcher mechanics, not the gate (test/unit/gate-*.test.ts): the fake CLI's argv is no real AWS command,
    // so the decision is the test's (allow unless it says otherwise) over the real parse and profile binding.
    classify(argv, d) {
      const {parsed} = classifyArgv(argv, d)
      const decision: GateDecision = {
        category: null,
        decision: 'allow',
        operation: parsed.operation,
        profile: parsed.profile,
        reason: 'launcher test',
        rule: null,
        service: parsed.service,
        ...options.decision,
      }
      return {decision, parsed}
    },
    ctx,
    findRuntime: () => ({argv: ['/bin/sh', FAKE_CLI], source: 'policy'}),
    pid: 999_999,
    policy: DEFAULT_POLICY,
    processTable: {
      snapshot: (pid) =>
        pid === 999_999
          ? {argv: ['node'], exe: '/usr/bin/node', pid, ppid: 1, startTime: START, tracerPid: 0, uid: 1000}
          : null,
    },
    signalReachedChild: (signal) => signal === 'SIGINT',
    signals,
    spawn(file, args, opts) {
      spawned.push([file, ...args])
      return spawn(file, args, opts)
    },
    tokens: {hashArgv, loadKey: async () => KEY, mint: mintToken},
    userAws: {aliasExists: () => false, configText: () => options.userConfig ?? null},
  }
  return {approvals, deps, events, home, runtimeDir, signals, spawned, stderr}
}

function leftovers(h: Harness): string[] {
  return existsSync(h.runtimeDir)
    ? readdirSync(h.runtimeDir)
    : readdirSync(h.deps.ctx.tmpdir).filter((n) => n.startsWith('av-run-'))
}

async function rejectsWith(promise: Promise<unknown>, exit: number, message: RegExp): Promise<AvError> {
  let caught: unknown
  await promise.catch((error: unknown) => {
    caught = error
  })
  assert.ok(caught instanceof AvError, `expected an AvError, got ${String(caught)}`)
  assert.equal(caught.exit, exit)
  assert.match(caught.message, message)
  assert.doesNotMatch(`${caught.message} ${caught.suggestion}`, /avCanarySecret/)
  return caught
}

describe('runAws', () => {
  after(() => rmSync(root, {force: true, recursive: true}))

  it('runs an allowed command sealed, passes the exit code through, and removes the private HOME', async () => {
    const h = harness({userConfig: '[profile work]\nregion = eu-west-1\nendpoint_url = http://evil\n'})
    const report = path.join(root, 'allowed.txt')
    const code = await runAws(['aws', report, 'exit 3', '--profile', 'work'], h.deps)
    assert.equal(code, 3)
    const seen = readFileSync(report, 'utf8')
    const home = /^HOME=(.*)$/m.exec(seen)![1]!
    assert.match(home, /\/runtime\/av-run-\w+$/)
    assert.match(seen, /^PWD-HOME-MODE=700$/m)
    assert.match(seen, /^CONFIG-MODE=600$/m)
    assert.match(
      seen,
      /--- config\n\[profile work\]\nregion = eu-west-1\ncredential_process = \/opt\/av\/lib\/av\/bin\/run\.js credential-helper aws --profile work\n--- env/,
    )
    assert.match(seen, /^AWS_PROFILE=work$/m)
    assert.match(seen, /^AWS_SHARED_CREDENTIALS_FILE=\/dev\/null$/m)
    assert.doesNotMatch(seen, /avCanarySecret|evil/)
    assert.equal(existsSync(home), false, 'private HOME removed')
    assert.deepEqual(leftovers(h), [])
    assert.deepEqual(h.spawned, [['/bin/sh', FAKE_CLI, report, 'exit 3', '--profile', 'work']])
    assert.deepEqual(
      h.events.map((e) => [e.event, e.decision ?? e.exitCode]),
      [
        ['gate', 'allow'],
        ['run', 3],
      ],
    )
  })

  it('mints a token bound to this launcher, the profile, the exact CLI argv and the config bytes', async () => {
    const h = harness()
    const report = path.join(root, 'token.txt')
    assert.equal(await runAws(['aws', report, 'exit 0'], h.deps), 0)
    const seen = readFileSync(report, 'utf8')
    const token = /^AV_RUN_TOKEN=(.*)$/m.exec(seen)![1]!
    const verdict = verifyToken(KEY, token, 1_800_000_000_000)
    assert.ok(verdict.ok)
    const config = /--- config\n([\s\S]*)--- env/.exec(seen)![1]!
    const {createHash} = await import('node:crypto')
    assert.deepEqual(verdict.claims, {
      argvHash: hashArgv(['/bin/sh', FAKE_CLI, report, 'exit 0']),
      configHash: createHash('sha256').update(config).digest('hex'),
      expires: 1_800_000_000_000 + TOKEN_LIFETIME_MS,
      issued: 1_800_000_000_000,
      launcherPid: 999_999,
      launcherStart: START,
      profile: 'default',
      v: 1,
    })
  })

  it('reports death by signal as 128+n', async () => {
    const h = harness()
    assert.equal(await runAws(['aws', path.join(root, 'kill.txt'), 'kill -KILL $$'], h.deps), 137)
    assert.deepEqual(leftovers(h), [])
  })

  it('forwards SIGTERM to the CLI, returns its code and removes the private HOME', async () => {
    const h = harness()
    const report = path.join(root, 'term.txt')
    const marker = path.join(root, 'term-ready')
    const script = `trap 'echo got-TERM > ${marker}.got; exit 7' TERM; echo > ${marker}; while :; do sleep 0.05; done`
    const run = runAws(['aws', report, script], h.deps)
    await waitForFile(marker)
    h.signals.emit('SIGTERM')
    assert.equal(await run, 7)
    assert.equal(readFileSync(`${marker}.got`, 'utf8'), 'got-TERM\n')
    assert.deepEqual(leftovers(h), [])
    assert.equal(h.signals.count('SIGTERM'), 0, 'listeners removed after the run')
  })

  it('does not forward a Ctrl-C the CLI got from the terminal itself', async () => {
    const h = harness()
    const marker = path.join(root, 'int-ready')
    const script = `trap 'echo INT >> ${marker}.got' INT; trap 'exit 5' TERM; echo > ${marker}; while :; do sleep 0.05; done`
    const run = runAws(['aws', path.join(root, 'int.txt'), script], h.deps)
    await waitForFile(marker)
    h.signals.emit('SIGINT')
    await new Promise((resolve) => {
      setTimeout(resolve, 200)
    })
    assert.equal(existsSync(`${marker}.got`), false, 'SIGINT not forwarded')
    h.signals.emit('SIGTERM')
    assert.equal(await run, 5)
  })

  it('never spawns a command the gate denies', async () => {
    const h = harness({decision: {decision: 'deny', reason: 'prints secrets', rule: 'secretsmanager get-secret-value'}})
    const error = await rejectsWith(
      runAws(['aws', 'secretsmanager', 'get-secret-value', '--secret-id', 'x'], h.deps),
      EXIT.refused,
      /denied by the gate: prints secrets/,
    )
    assert.match(error.suggestion ?? '', /"secretsmanager get-secret-value": "allow"/)
    assert.deepEqual(h.spawned, [])
    assert.deepEqual(h.approvals, [])
    assert.deepEqual(leftovers(h), [])
    assert.equal(h.events[0]?.decision, 'deny')
  })

  for (const answer of ['denied', 'unavailable'] as const) {
    it(`never spawns a gated command when approval is ${answer}`, async () => {
      const h = harness({answer, decision: {category: 'credential', decision: 'approve', rule: 'configure list'}})
      await rejectsWith(runAws(['aws', 'configure', 'list'], h.deps), EXIT.refused, /needs approval .* and/)
      assert.deepEqual(h.spawned, [])
      assert.equal(h.approvals.length, 1)
      assert.equal(h.events[0]?.answer, answer)
    })
  }

  it('spawns a gated command once approved, after asking with the exact command', async () => {
    const h = harness({answer: 'approved', decision: {category: 'elevated', decision: 'approve', rule: 'iam'}})
    const report = path.join(root, 'approved.txt')
    assert.equal(await runAws(['aws', report, 'exit 0', 'iam', 'list-users'], h.deps), 0)
    assert.equal(h.approvals[0]?.command, `aws ${report} 'exit 0' iam list-users`)
    assert.equal(h.spawned.length, 1)
  })

  const MFA_CONFIG = '[default]\nmfa_serial = arn:aws:iam::123456789012:mfa/me\n'
  const elevation: Array<[string, Partial<GateDecision>, boolean, string?]> = [
    ['an elevated command', {category: 'elevated', operation: 'list-users', service: 'iam'}, true],
    [
      'IAM on a profile whose session is an MFA session',
      {category: 'elevated', operation: 'list-users', service: 'iam'},
      false,
      MFA_CONFIG,
    ],
    [
      'an STS call an MFA session cannot make',
      {category: 'credential', operation: 'get-session-token', service: 'sts'},
      true,
      MFA_CONFIG,
    ],
    [
      'a credential command that also needs the key',
      {category: 'credential', operation: 'get-session-token', service: 'sts'},
      true,
    ],
    [
      'a gated command session credentials can run',
      {category: 'credential', operation: 'assume-role', service: 'sts'},
      false,
    ],
  ]
  for (const [name, decision, elevated, userConfig] of elevation) {
    it(`${name}, once approved, gets a token ${elevated ? 'with' : 'without'} the elevated claim`, async () => {
      const h = harness({answer: 'approved', decision: {decision: 'approve', rule: 'r', ...decision}, userConfig})
      const report = path.join(root, `elevated-${elevated}.txt`)
      assert.equal(await runAws(['aws', report, 'exit 0'], h.deps), 0)
      const token = /^AV_RUN_TOKEN=(.*)$/m.exec(readFileSync(report, 'utf8'))![1]!
      const verdict = verifyToken(KEY, token, 1_800_000_000_000)
      assert.ok(verdict.ok)
      assert.equal(verdict.claims.elevated, elevated ? true : undefined)
    })
  }

  it('refuses anything that is not the AWS CLI', async () => {
    const h = harness()
    await rejectsWith(runAws(['sh', '-c', 'env'], h.deps), EXIT.refused, /only runs the AWS CLI, not "sh"/)
    assert.deepEqual(h.spawned, [])
  })

  it('fails with 125 and spawns nothing when the token key cannot be had', async () => {
    const h = harness()
    h.deps.tokens.loadKey = async () => null
    await rejectsWith(runAws(['aws', 'x', 'exit 0'], h.deps), EXIT.failed, /token key/)
    assert.deepEqual(h.spawned, [])
    assert.deepEqual(leftovers(h), [])
  })

  it('answers 127 when the runtime vanished before spawning', async () => {
    const h = harness()
    h.deps.findRuntime = () => ({argv: [path.join(root, 'no-such-aws')], source: 'policy'})
    await rejectsWith(runAws(['aws', 'x'], h.deps), EXIT.notFound, /could not be started \(ENOENT\)/)
    assert.deepEqual(leftovers(h), [])
  })

  it('says once which user settings are ignored', async () => {
    const h = harness({userConfig: '[plugins]\n[default]\ncli_history = enabled\n'})
    assert.equal(await runAws(['aws', path.join(root, 'notice.txt'), 'exit 0'], h.deps), 0)
    assert.equal(h.stderr.length, 1)
    assert.match(h.stderr[0]!, /\[plugins\], cli_history = enabled .* ignored inside av runs/)
  })

  describe('the CLI interpreter that imports while the launcher gates (prewarm)', () => {
    /** A Python stand-in CLI: `<report> <exit code>`, writes its environment to the report. */
    const FAKE_PY = path.join(root, 'fake-aws.py')
    writeFileSync(
      FAKE_PY,
      'import os, sys\nopen(sys.argv[1], "w").write("".join(f"{k}={v}\\n" for k, v in sorted(os.environ.items())))\nsys.exit(int(sys.argv[2]))\n',
    )
    const RUNTIME = ['/usr/bin/python3', '-I', FAKE_PY]

    /** A harness whose launcher starts a fake waiting interpreter, and what it was started with. */
    function warmHarness(options: Parameters<typeof harness>[0] = {}) {
      const h = harness(options)
      h.deps.findRuntime = () => ({argv: RUNTIME, source: 'policy'})
      const started: Array<{argv: string[]; env: Record<string, string>; runtime: string[]}> = []
      const w = fakePrewarmed(RUNTIME, {gid: 1000, uid: 1000})
      h.deps.prewarm = (argv, env, runtime) => {
        started.push({argv, env, runtime})
        return w.prewarmed
      }

      return {h, started, w}
    }

    it('starts with the sealed environment (its token binds its own argv) and is handed the run on one line', async () => {
      const {h, started, w} = warmHarness()
      const argv = ['aws', 'sts', 'get-caller-identity', '--profile', 'dev']
      assert.equal(await runAws(argv, h.deps), 4)
      assert.equal(started.length, 1)
      const [{argv: warmArgv, env, runtime}] = started as [(typeof started)[0]]
      assert.deepEqual([warmArgv, runtime], [prewarmArgv(RUNTIME, argv.slice(1)), RUNTIME])
      assert.equal(tokenOf(env).argvHash, hashArgv(warmArgv))
      assert.equal(env.AWS_PROFILE, 'dev')
      assert.ok(!JSON.stringify(env).includes(CANARY), 'the launcher environment is not passed on')
      assert.deepEqual([h.spawned, w.child.kills], [[], []])
      assert.equal(w.sent.length, 1)
      assert.ok(w.sent[0]!.endsWith('}\n') && !w.sent[0]!.slice(0, -1).includes('\n'))
      const go = JSON.parse(w.sent[0]!) as {argv: string[]; env: Record<string, string>}
      assert.deepEqual(go, {argv: [FAKE_PY, ...argv.slice(1)], env})
      assert.equal(existsSync(env.HOME!), false, 'private HOME removed')
      assert.deepEqual(leftovers(h), [])
    })

    for (const answer of ['approved', 'denied'] as const) {
      it(`a held command starts nothing while the person is asked; ${answer === 'approved' ? 'approved, the CLI starts then' : 'denied, nothing ever starts'}`, async () => {
        const {h, started} = warmHarness({answer, decision: {decision: 'approve', rule: 'r'}})
        const startedWhenAsked: number[] = []
        const ask = h.deps.approve
        h.deps.approve = async (request) => {
          startedWhenAsked.push(started.length + h.spawned.length)
          return ask(request)
        }

        const report = path.join(root, `held-${answer}.txt`)
        const run = runAws(['aws', report, '0'], h.deps)
        if (answer === 'approved') assert.equal(await run, 0)
        else await rejectsWith(run, EXIT.refused, /needs approval/)
        assert.deepEqual(startedWhenAsked, [0])
        assert.deepEqual(started, [])
        assert.deepEqual(h.spawned, answer === 'approved' ? [[...RUNTIME, report, '0']] : [])
        assert.deepEqual(leftovers(h), [])
      })
    }

    it('a command the gate denies starts nothing at all', async () => {
      const {h, started} = warmHarness({decision: {decision: 'deny', reason: 'no'}})
      await rejectsWith(runAws(['aws', 'sts', 'get-caller-identity'], h.deps), EXIT.refused, /denied by the gate/)
      assert.deepEqual([started, h.spawned, leftovers(h)], [[], [], []])
    })

    it('without the token key nothing starts', async () => {
      const {h, started} = warmHarness()
      h.deps.tokens.loadKey = async () => null
      await rejectsWith(runAws(['aws', 'sts', 'get-caller-identity'], h.deps), EXIT.failed, /token key/)
      assert.deepEqual([started, h.spawned, leftovers(h)], [[], [], []])
    })

    it('one that died waiting is left alone: the CLI starts as before, with a token bound to its argv', async () => {
      const {h, w} = warmHarness()
      const ask = h.deps.prewarm!
      h.deps.prewarm = (...started) => {
        const warm = ask(...started)
        w.child.exit(null, 'SIGINT')
        return warm
      }

      const report = path.join(root, 'warm-died.txt')
      assert.equal(await runAws(['aws', report, '0'], h.deps), 0)
      assert.deepEqual([w.sent, w.child.kills], [[], []])
      assert.deepEqual(h.spawned, [[...RUNTIME, report, '0']])
      const env = Object.fromEntries(
        readFileSync(report, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
      )
      assert.equal(tokenOf(env).argvHash, hashArgv([...RUNTIME, report, '0']))
    })
  })
})

/** The claims of the valid run token in `env`. */
function tokenOf(env: Record<string, string>): TokenClaims {
  const verdict = verifyToken(KEY, env.AV_RUN_TOKEN ?? '', 1_800_000_000_000)
  assert.ok(verdict.ok, 'a valid token')
  return verdict.claims
}
