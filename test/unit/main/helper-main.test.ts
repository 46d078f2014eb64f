import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import type {AuditEvent, AuditSink} from '../../../src/lib/audit/audit.js'

import {AvError} from '../../../src/lib/core/errors.js'
import {REFUSAL_HINTS, type RefusalReason} from '../../../src/lib/core/refusal.js'
import {
  credentialDocument,
  type HelperDeps,
  parseHelperArgs,
  releaseCredentials,
} from '../../../src/lib/main/helper-main.js'
import {hashArgv, mintToken, sha256Hex, TOKEN_KEY_ACCOUNT, type TokenClaims} from '../../../src/lib/run/token.js'
import {FakeSts} from '../../fakes/fake-sts.js'
import {MemoryStore} from '../../fakes/memory-store.js'
import {
  CLI,
  CLI_ARGV,
  CLI_ENV,
  CONFIG_FILE,
  FAKE_FS,
  FakeProcessTable,
  HELPER,
  LAUNCHER,
  LAUNCHER_ENV,
} from '../../fakes/process-world.js'

const KEY = Buffer.alloc(32, 3)
const NOW = 1_800_000_000_000
const CONFIG = Buffer.from(
  '[profile dev]\nregion = eu-west-1\ncredential_process = /opt/av/bin/run.js credential-helper aws --profile dev\n',
)
const ACCESS_KEY = 'AKIAAVCANARY0000HELP'
const SECRET = 'avCanarySecret/helper+unit0000000000000'
const SESSION = 'avCanarySessionToken0000'

const CLAIMS: TokenClaims = {
  v: 1,
  launcherPid: LAUNCHER.pid,
  launcherStart: LAUNCHER.startTime,
  profile: 'dev',
  argvHash: hashArgv(CLI_ARGV),
  configHash: sha256Hex(CONFIG),
  issued: NOW - 5000,
  expires: NOW + 12 * 3_600_000,
}
const TOKEN = mintToken(KEY, CLAIMS)

interface World {
  audit: {events: AuditEvent[]; fail: boolean; launcherEnvs: Array<null | Record<string, string>>}
  deps: HelperDeps
  stderr: string[]
  stdout: string[]
  store: MemoryStore
  sts: FakeSts
  table: FakeProcessTable
  /** The user's own ~/.aws/config (LAUNCHER_ENV.HOME), read by the helper for session settings. */
  userConfig: {text: null | string}
}

function world(options: {env?: NodeJS.ProcessEnv; pair?: object | null} = {}): World {
  const store = new MemoryStore()
  store.items.set(TOKEN_KEY_ACCOUNT, KEY.toString('base64'))
  const pair =
    options.pair === undefined
      ? {accessKeyId: ACCESS_KEY, secretAccessKey: SECRET, sessionToken: SESSION}
      : options.pair
  if (pair) store.items.set('aws:dev', JSON.stringify({v: 1, ...pair}))
  const table = new FakeProcessTable()
  const stdout: string[] = []
  const stderr: string[] = []
  const audit = {events: [] as AuditEvent[], fail: false, launcherEnvs: [] as Array<null | Record<string, string>>}
  const sink = (launcherEnv: null | Record<string, string>): AuditSink => ({
    async record(event) {
      audit.launcherEnvs.push(launcherEnv)
      if (audit.fail)
        throw new AvError('audit-failed', 'the audit log /x/audit.jsonl cannot be written (EACCES)', {
          suggestion: 'Make /x writable by you (av refuses to release credentials it cannot record).',
        })
      audit.events.push(event)
    },
  })
  const sts = new FakeSts({now: () => NOW})
  const userConfig = {text: null as null | string}
  const deps: HelperDeps = {
    askCode: async () => '123456',
    audit: sink,
    clock: {now: () => NOW},
    env: options.env ?? {AV_RUN_TOKEN: TOKEN, ...CLI_ENV},
    pid: HELPER.pid,
    platform: 'linux',
    readFile(file) {
      if (file === '/home/u/.aws/config' && userConfig.text !== null) return Buffer.from(userConfig.text)
      if (file !== CONFIG_FILE) throw new Error('ENOENT')
      return CONFIG
    },
    stderr: {write: (t) => stderr.push(t)},
    stdout: {write: (t) => stdout.push(t)},
    store,
    async loginRefresh() {
      throw new Error('no console sign-in in this test')
    },
    async sso() {
      throw new Error('no IAM Identity Center in this test')
    },
    sts: async () => sts,
    table,
    trustFs: FAKE_FS,
    userHome: '/home/u',
  }
  return {audit, deps, stderr, stdout, store, sts, table, userConfig}
}

/** Run the helper; assert no secret or token leaked to stderr or the audit; return what a caller sees. */
async function run(w: World, args = ['--profile', 'dev']) {
  const code = await releaseCredentials(args, w.deps)
  const stderr = w.stderr.join('')
  for (const leak of [SECRET, SESSION, TOKEN]) {
    assert.ok(!stderr.includes(leak), 'stderr leaks')
    assert.ok(!JSON.stringify(w.audit.events).includes(leak), 'audit leaks')
  }

  const reason =
    /^av credential-helper: refused \(([a-z-]+)\): [^\n]+\n(?:av credential-helper: this refusal is not in the audit log: [^\n]+\n)?$/.exec(
      stderr,
    )?.[1] ?? null
  return {code, reason, stderr, stdout: w.stdout.join('')}
}

describe('credential helper: release', () => {
  it('prints exactly the credential_process document for the genuine chain, after auditing it', async () => {
    const w = world()
    const out = await run(w)
    assert.deepEqual(out, {
      code: 0,
      reason: null,
      stderr: '',
      stdout: `{"Version":1,"AccessKeyId":"${ACCESS_KEY}","SecretAccessKey":"${SECRET}","SessionToken":"${SESSION}"}\n`,
    })
    assert.deepEqual(w.audit.events, [
      {
        event: 'release',
        profile: 'dev',
        launcherPid: LAUNCHER.pid,
        cliPid: CLI.pid,
        argvHash: CLAIMS.argvHash,
        credentials: 'durable',
        cached: false,
      },
    ])
    assert.deepEqual(w.audit.launcherEnvs, [LAUNCHER_ENV], 'audited in the launcher’s state dir')
  })

  it('releases an STS session, not a long-term key, and reuses it from the store on the next call', async () => {
    const w = world({pair: {accessKeyId: ACCESS_KEY, secretAccessKey: SECRET}})
    const expected =
      '{"Version":1,"AccessKeyId":"ASIAAVCANARYSESS0001","SecretAccessKey":"avCanarySessionSecret/GetSessionToken/0001",' +
      '"SessionToken":"avCanarySessionToken/GetSessionToken/0001","Expiration":"2027-01-15T09:00:00Z"}\n'
    const first = await run(w)
    assert.equal(first.stdout, expected)
    assert.ok(!first.stdout.includes(SECRET))
    assert.deepEqual(w.sts.calls[0]!.target.credentials, {accessKeyId: ACCESS_KEY, secretAccessKey: SECRET})
    w.stdout.length = 0
    assert.equal((await run(w)).stdout, expected)
    assert.equal(w.sts.calls.length, 1)
    assert.deepEqual(
      w.audit.events.map((e) => [e.event, e.credentials, e.cached, e.expiration]),
      [
        ['release', 'session', false, '2027-01-15T09:00:00.000Z'],
        ['release', 'session', true, '2027-01-15T09:00:00.000Z'],
      ],
    )
  })

  it('an elevated token gets the long-term key for that run, recorded as durable', async () => {
    const w = world({pair: {accessKeyId: ACCESS_KEY, secretAccessKey: SECRET}})
    w.deps.env.AV_RUN_TOKEN = mintToken(KEY, {...CLAIMS, elevated: true})
    const out = await run(w)
    assert.equal(out.stdout, `{"Version":1,"AccessKeyId":"${ACCESS_KEY}","SecretAccessKey":"${SECRET}"}\n`)
    assert.equal(w.sts.calls.length, 0)
    assert.deepEqual(
      w.audit.events.map((e) => [e.event, e.elevated, e.credentials]),
      [['release', true, 'durable']],
    )
  })

  it("reads role and session settings from the user's own config, not the generated one", async () => {
    const w = world({pair: {accessKeyId: ACCESS_KEY, secretAccessKey: SECRET}})
    w.userConfig.text = '[profile dev]\nav_session_duration = 900\nregion = eu-west-1\n'
    await run(w)
    assert.equal(w.sts.calls[0]!.target.endpoint, 'https://sts.eu-west-1.amazonaws.com')
    assert.equal((w.sts.calls[0]!.input as {durationSeconds: number}).durationSeconds, 900)
  })

  it('an STS failure is a refusal with nothing on stdout', async () => {
    const w = world({pair: {accessKeyId: ACCESS_KEY, secretAccessKey: SECRET}})
    w.sts.failWith = Object.assign(new Error('bad key'), {name: 'InvalidClientTokenId'})
    const out = await run(w)
    assert.deepEqual([out.code, out.reason, out.stdout], [1, 'sts-failed', ''])
    assert.match(out.stderr, /does not recognise the stored access key/)
  })

  it('an MFA profile with no channel is refused as mfa-unavailable', async () => {
    const w = world({pair: {accessKeyId: ACCESS_KEY, secretAccessKey: SECRET}})
    w.userConfig.text = '[profile dev]\nmfa_serial = arn:aws:iam::1:mfa/u\n'
    w.deps.askCode = async () => {
      // As code-prompt.ts says it: the failure names the refusal reason it stands for.
      throw new AvError('refused', 'profile dev needs an MFA code and no approver channel can ask for it', {
        reason: 'mfa-unavailable',
      })
    }

    const out = await run(w)
    assert.deepEqual([out.code, out.reason, out.stdout], [1, 'mfa-unavailable', ''])
  })

  it('writes Expiration when the credentials carry one', () => {
    const doc = credentialDocument({
      accessKeyId: ACCESS_KEY,
      expiration: '2026-11-28T12:00:00Z',
      secretAccessKey: SECRET,
    })
    assert.deepEqual(Object.keys(JSON.parse(doc)), ['Version', 'AccessKeyId', 'SecretAccessKey', 'Expiration'])
  })
})

describe('credential helper: refusals', () => {
  const cases: Array<[string, (w: World) => void, string, RegExp?]> = [
    ['no token', (w) => delete w.deps.env.AV_RUN_TOKEN, 'token-missing', /av run -- aws/],
    [
      'an empty token',
      (w) => {
        w.deps.env.AV_RUN_TOKEN = ''
      },
      'token-missing',
    ],
    [
      'a garbage token',
      (w) => {
        w.deps.env.AV_RUN_TOKEN = 'garbage'
      },
      'token-malformed',
    ],
    [
      'a token for another profile',
      (w) => {
        w.deps.env.AV_RUN_TOKEN = mintToken(KEY, {...CLAIMS, profile: 'prod'})
      },
      'profile-mismatch',
    ],
    [
      'no token key in the store (locked keyring)',
      (w) => w.store.items.delete(TOKEN_KEY_ACCOUNT),
      'token-key-missing',
      /Unlock your keyring/,
    ],
    [
      'the store unavailable',
      (w) => {
        w.store.unavailable = true
      },
      'store-unavailable',
      /dbus-run-session/,
    ],
    [
      'a corrupt token key',
      (w) => w.store.items.set(TOKEN_KEY_ACCOUNT, 'eA=='),
      'store-corrupt',
      /Delete the keychain item "token-key"/,
    ],
    [
      'a corrupt key pair',
      (w) => w.store.items.set('aws:dev', '{"v":9}'),
      'store-corrupt',
      /Upgrade av to the version that wrote this item/,
    ],
    ['no keys stored for the profile', (w) => w.store.items.delete('aws:dev'), 'not-stored', /av migrate/],
    [
      'LD_PRELOAD in the CLI environment',
      (w) => w.table.environs.set(CLI.pid, {...CLI_ENV, LD_PRELOAD: '/x.so'}),
      'runtime-env-unsafe',
    ],
    [
      'a config file the launcher did not write',
      (w) => {
        w.deps.readFile = () => Buffer.from('[plugins]\n')
      },
      'config-mismatch',
    ],
    ['the launcher gone', (w) => w.table.snapshots.delete(LAUNCHER.pid), 'grandparent-not-launcher'],
    [
      'the CLI exiting while the keys are read',
      (w) => {
        w.table.onSnapshot = (pid, call) => {
          if (call > 4) w.table.snapshots.delete(CLI.pid)
        }
      },
      'parent-gone',
    ],
    [
      'an audit log that cannot be written',
      (w) => {
        w.audit.fail = true
      },
      'audit-failed',
      /writable/,
    ],
  ]
  for (const [name, change, reason, advice] of cases) {
    it(`${name} → exit 1, ${reason}, nothing on stdout`, async () => {
      const w = world()
      change(w)
      const out = await run(w)
      assert.deepEqual([out.code, out.reason, out.stdout], [1, reason, ''])
      // Without a more specific hint from the error itself, the reason's own line from the one table.
      if (advice) assert.match(out.stderr, advice)
      else assert.ok(out.stderr.trimEnd().endsWith(REFUSAL_HINTS[reason as RefusalReason]), out.stderr)
      if (reason === 'audit-failed') {
        // The refusal cannot be recorded either: said out loud, never written anywhere else.
        assert.match(out.stderr, /\nav credential-helper: this refusal is not in the audit log: the audit log \/x\//)
        assert.deepEqual(w.audit.events, [])
      } else
        assert.deepEqual(
          w.audit.events.map((e) => [e.event, e.reason]),
          [['refusal', reason]],
        )
    })
  }

  it('refuses a missing token without touching the store', async () => {
    const w = world({env: {}})
    w.store.unavailable = true
    assert.equal((await run(w)).reason, 'token-missing')
    assert.deepEqual(w.table.calls, [], 'no process was inspected either')
  })

  it('refuses an impostor with a well-formed token before touching the store', async () => {
    const w = world({env: {AV_RUN_TOKEN: mintToken(Buffer.alloc(32, 4), CLAIMS)}})
    w.store.unavailable = true
    w.table.snapshots.set(CLI.pid, {...CLI, argv: ['bash'], exe: '/usr/bin/bash'})
    assert.equal((await run(w)).reason, 'parent-not-runtime')
    assert.deepEqual(w.audit.launcherEnvs, [LAUNCHER_ENV], 'audited where the grandparent’s HOME says')
  })

  it("audits a refusal inside a genuine run in the launcher's state dir", async () => {
    const w = world()
    w.deps.readFile = () => Buffer.from('[profile dev]\nendpoint_url = http://attacker\n')
    assert.equal((await run(w)).reason, 'config-mismatch')
    assert.deepEqual(w.audit.launcherEnvs, [LAUNCHER_ENV])
  })

  it('audits under its own HOME when no grandparent environment can be read', async () => {
    const w = world()
    w.table.snapshots.set(CLI.pid, {...CLI, ppid: 1})
    assert.equal((await run(w)).reason, 'grandparent-not-launcher')
    assert.deepEqual(w.audit.launcherEnvs, [null])
  })

  it('binds profile "default" when no --profile is given', async () => {
    assert.equal((await run(world(), [])).reason, 'profile-mismatch')
  })

  for (const args of [
    ['--profile'],
    ['--profile', '--x'],
    ['--profile', 'a', '--profile', 'b'],
    ['s3'],
    ['--region=x'],
  ]) {
    it(`refuses usage ${JSON.stringify(args)} with exit 2`, async () => {
      const out = await run(world(), args)
      assert.deepEqual([out.code, out.reason, out.stdout], [2, 'usage', ''])
    })
  }

  it('parses --profile=P and --profile P alike', () => {
    assert.deepEqual(parseHelperArgs(['--profile=x']), {profile: 'x'})
    assert.deepEqual(parseHelperArgs(['--profile', 'x']), {profile: 'x'})
  })
})
