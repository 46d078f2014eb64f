import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import type {ProcessSnapshot} from '../../../src/lib/core/process-table.js'
import type {RefusalReason} from '../../../src/lib/core/refusal.js'

import {REFUSAL_REASONS} from '../../../src/lib/core/refusal.js'
import {
  builtinRuntimes,
  type CallerFacts,
  collectTrust,
  DEFAULT_AWS_CLI,
  precheckCaller,
  resolveRuntimes,
  verifyCaller,
} from '../../../src/lib/run/caller-check.js'
import {prewarmArgv} from '../../../src/lib/run/prewarm.js'
import {hashArgv, mintToken, type TokenClaims, verifyToken} from '../../../src/lib/run/token.js'
import {CLI, CLI_ARGV, CLI_ENV, FAKE_FS, HELPER, LAUNCHER, LAUNCHER_ENV, snap} from '../../fakes/process-world.js'

const KEY = Buffer.alloc(32, 1)
const NOW = 1_800_000_000_000
const CONFIG_HASH = 'c'.repeat(64)
const CLAIMS: TokenClaims = {
  v: 1,
  launcherPid: 1000,
  launcherStart: '5000',
  profile: 'dev',
  argvHash: hashArgv(CLI_ARGV),
  configHash: CONFIG_HASH,
  issued: NOW - 1000,
  expires: NOW + 12 * 3_600_000,
}

type Facts = Omit<CallerFacts, 'trust'>

/** The CLI as the waiting interpreter (run/prewarm.ts) started for the same run. */
const WARM_ARGV = prewarmArgv(DEFAULT_AWS_CLI, CLI_ARGV.slice(DEFAULT_AWS_CLI.length))!

/** The genuine chain `av run -- aws s3 ls --profile dev` builds. */
const GENUINE: Facts = {
  configHash: CONFIG_HASH,
  environReadable: true,
  grandparent: LAUNCHER,
  grandparentEnv: LAUNCHER_ENV,
  helper: HELPER,
  parent: CLI,
  parentEnv: {...CLI_ENV, AV_RUN_TOKEN: 'v1.x.y'},
  profile: 'dev',
  recheck: CLI,
  runtimes: [
    {argv: DEFAULT_AWS_CLI, exe: '/usr/bin/python3.11'},
    {argv: ['/usr/local/aws-cli/v2/current/bin/aws'], exe: null},
  ],
  token: verifyToken(KEY, mintToken(KEY, CLAIMS), NOW),
}

function verdict(facts: Facts): 'ok' | RefusalReason {
  const result = verifyCaller({...facts, trust: collectTrust(facts, FAKE_FS)})
  if (!result.ok) {
    assert.doesNotMatch(result.detail, /s3 ls|v1\.x\.y/, 'details never carry argv or the token')
    return result.reason
  }

  return 'ok'
}

const withCli = (c: Partial<ProcessSnapshot>): Partial<Facts> => ({parent: {...CLI, ...c}, recheck: {...CLI, ...c}})
const withLauncher = (l: Partial<ProcessSnapshot>): Partial<Facts> => ({grandparent: {...LAUNCHER, ...l}})
const launcherArgv = (argv: string[]) => withLauncher({argv})

// One table: what the helper sees → what it answers.
const TABLE: Array<[string, Partial<Facts>, 'ok' | RefusalReason]> = [
  ['the genuine chain', {}, 'ok'],
  [
    'macOS: environments unreadable, checks skipped',
    {environReadable: false, grandparentEnv: null, parentEnv: null},
    'ok',
  ],
  // token
  ['no token', {token: {ok: false, reason: 'token-missing'}}, 'token-missing'],
  ['garbage token', {token: verifyToken(KEY, 'garbage', NOW)}, 'token-malformed'],
  [
    'token signed with another key',
    {token: verifyToken(Buffer.alloc(32, 2), mintToken(KEY, CLAIMS), NOW)},
    'token-bad-signature',
  ],
  [
    'token used after its run expired',
    {token: verifyToken(KEY, mintToken(KEY, CLAIMS), CLAIMS.expires)},
    'token-expired',
  ],
  [
    'token issued in the future',
    {token: verifyToken(KEY, mintToken(KEY, {...CLAIMS, issued: NOW + 3_600_000}), NOW)},
    'token-not-yet-valid',
  ],
  ['token key not in the store', {token: {ok: false, reason: 'token-key-missing'}}, 'token-key-missing'],
  ['helper asked for another profile', {profile: 'prod'}, 'profile-mismatch'],
  // the helper and its parent
  ['helper cannot read itself', {helper: null}, 'self-unknown'],
  ['parent gone before the check', {parent: null}, 'parent-gone'],
  ['helper reparented (its parent exited)', {helper: {...HELPER, ppid: 1}}, 'parent-gone'],
  ['helper traced', {helper: {...HELPER, tracerPid: 4444}}, 'traced'],
  ['AWS CLI traced', withCli({tracerPid: 4444}), 'traced'],
  ['launcher traced', withLauncher({tracerPid: 4444}), 'traced'],
  ['macOS: traced flag without a tracer pid', withCli({tracerPid: -1}), 'traced'],
  ['called from a shell', withCli({argv: ['bash'], exe: '/usr/bin/bash'}), 'parent-not-runtime'],
  ['called by a copied interpreter named like the runtime', withCli({exe: '/home/u/python3'}), 'parent-not-runtime'],
  ['parent executable unreadable', withCli({exe: null}), 'parent-not-runtime'],
  ['runtime not installed', {runtimes: [{argv: DEFAULT_AWS_CLI, exe: null}]}, 'parent-not-runtime'],
  [
    'the official installer binary named by the policy',
    {
      runtimes: [{argv: ['/usr/bin/aws'], exe: '/usr/bin/aws'}],
      token: verifyToken(KEY, mintToken(KEY, {...CLAIMS, argvHash: hashArgv(['/usr/bin/aws', 's3', 'ls'])}), NOW),
      ...withCli({argv: ['/usr/bin/aws', 's3', 'ls'], exe: '/usr/bin/aws'}),
    },
    'ok',
  ],
  [
    "Debian's runtime when /usr/bin/aws names /usr/bin/python3.11",
    {
      runtimes: resolveRuntimes(builtinRuntimes('linux', '/usr/bin/python3.11'), FAKE_FS),
      token: verifyToken(
        KEY,
        mintToken(KEY, {...CLAIMS, argvHash: hashArgv(['/usr/bin/python3.11', '-I', '/usr/bin/aws', 's3'])}),
        NOW,
      ),
      ...withCli({argv: ['/usr/bin/python3.11', '-I', '/usr/bin/aws', 's3']}),
    },
    'ok',
  ],
  [
    'python runtime when the policy names another one',
    {runtimes: [{argv: ['/usr/bin/aws'], exe: '/usr/bin/aws'}]},
    'parent-not-runtime',
  ],
  [
    'runtime entry script is user-owned (policy names it, token matches)',
    {
      runtimes: [{argv: ['/usr/bin/python3', '-I', '/home/u/aws'], exe: '/usr/bin/python3.11'}],
      token: verifyToken(
        KEY,
        mintToken(KEY, {...CLAIMS, argvHash: hashArgv(['/usr/bin/python3', '-I', '/home/u/aws', 's3'])}),
        NOW,
      ),
      ...withCli({argv: ['/usr/bin/python3', '-I', '/home/u/aws', 's3']}),
    },
    'parent-not-runtime',
  ],
  // the interpreter that imported while the launcher gated (run/prewarm.ts), then took the run over fd 3
  [
    'the waiting interpreter, the token bound to its argv',
    {
      token: verifyToken(KEY, mintToken(KEY, {...CLAIMS, argvHash: hashArgv(WARM_ARGV)}), NOW),
      ...withCli({argv: WARM_ARGV}),
    },
    'ok',
  ],
  ['the waiting interpreter, the token bound to the plain argv', withCli({argv: WARM_ARGV}), 'argv-mismatch'],
  ['the waiting interpreter with no AWS arguments', withCli({argv: prewarmArgv(DEFAULT_AWS_CLI)!}), 'argv-mismatch'],
  [
    'another program than the waiting one, by -c',
    withCli({argv: [...WARM_ARGV.slice(0, 3), 'import os; os.system("env")', ...WARM_ARGV.slice(4)]}),
    'argv-mismatch',
  ],
  [
    'the waiting program around a user-owned script',
    withCli({argv: prewarmArgv(['/usr/bin/python3', '-I', '/home/u/aws'], ['s3', 'ls'])!}),
    'argv-mismatch',
  ],
  ['real python without -I', withCli({argv: ['/usr/bin/python3', '/usr/bin/aws', 's3', 'ls']}), 'argv-mismatch'],
  ['the runtime prefix alone', withCli({argv: DEFAULT_AWS_CLI}), 'argv-mismatch'],
  [
    'another AWS command than the token was issued for',
    withCli({argv: [...DEFAULT_AWS_CLI, 'iam', 'create-access-key']}),
    'argv-mismatch',
  ],
  // the grandparent
  [
    'perfectly spoofed CLI argv, but not the launcher’s child',
    {grandparent: snap({argv: ['bash'], exe: '/usr/bin/bash', pid: 777}), ...withCli({ppid: 777})},
    'grandparent-not-launcher',
  ],
  [
    'launcher exited (CLI reparented to init)',
    {grandparent: snap({pid: 1}), ...withCli({ppid: 1})},
    'grandparent-not-launcher',
  ],
  ['launcher entry unreadable', {grandparent: null}, 'grandparent-not-launcher'],
  [
    'token stolen from another run (another launcher)',
    {token: verifyToken(KEY, mintToken(KEY, {...CLAIMS, launcherPid: 2000}), NOW)},
    'grandparent-not-launcher',
  ],
  ['pid reuse: same launcher pid, another start time', withLauncher({startTime: '9999'}), 'launcher-start-mismatch'],
  ['launcher is not Node.js', withLauncher({exe: '/usr/bin/python3.11'}), 'launcher-untrusted'],
  ['copied (user-owned) node as launcher', withLauncher({exe: '/home/u/node'}), 'launcher-untrusted'],
  [
    'node flags before the script',
    launcherArgv(['node', '--require', '/home/u/x.js', '/opt/av/bin/run.js', 'run']),
    'launcher-untrusted',
  ],
  [
    'node --import= before the script',
    launcherArgv(['node', '--import=/home/u/x.mjs', '/opt/av/bin/run.js', 'run']),
    'launcher-untrusted',
  ],
  ['node -e instead of a script', launcherArgv(['node', '-e', 'evil()', 'run']), 'launcher-untrusted'],
  ['launcher ran another av command', launcherArgv(['node', '/opt/av/bin/run.js', 'migrate']), 'launcher-untrusted'],
  [
    'copied launcher in the home directory',
    launcherArgv(['node', '/home/u/av/bin/run.js', 'run', '--', 'aws']),
    'launcher-untrusted',
  ],
  [
    'symlinked launcher path in a user directory',
    launcherArgv(['node', '/home/u/bin/av', 'run', '--', 'aws']),
    'launcher-untrusted',
  ],
  ['relative launcher path', launcherArgv(['node', 'bin/run.js', 'run', '--', 'aws']), 'launcher-untrusted'],
  ['launcher path with ..', launcherArgv(['node', '/home/u/../../opt/av/bin/run.js', 'run']), 'launcher-untrusted'],
  [
    'launcher script in a world-writable directory',
    launcherArgv(['node', '/tmp/writable-av/run.js', 'run']),
    'launcher-untrusted',
  ],
  ['launcher runs as another user', withLauncher({uid: 0}), 'uid-mismatch'],
  ['CLI runs as another user', withCli({uid: 1001}), 'uid-mismatch'],
  // start environments
  [
    'NODE_OPTIONS in the launcher environment',
    {grandparentEnv: {NODE_OPTIONS: '--require /home/u/x.js'}},
    'launcher-env-unsafe',
  ],
  ['LD_PRELOAD in the launcher environment', {grandparentEnv: {LD_PRELOAD: '/home/u/x.so'}}, 'launcher-env-unsafe'],
  [
    'DYLD_INSERT_LIBRARIES in the launcher environment',
    {grandparentEnv: {DYLD_INSERT_LIBRARIES: '/x.dylib'}},
    'launcher-env-unsafe',
  ],
  [
    'OPENSSL_CONF in the launcher environment',
    {grandparentEnv: {OPENSSL_CONF: '/home/u/openssl.cnf'}},
    'launcher-env-unsafe',
  ],
  ['launcher environment unreadable', {grandparentEnv: null}, 'launcher-env-unsafe'],
  [
    'LD_PRELOAD in the CLI environment',
    {parentEnv: {...GENUINE.parentEnv, LD_PRELOAD: '/home/u/x.so'}},
    'runtime-env-unsafe',
  ],
  [
    'PYTHONPATH in the CLI environment',
    {parentEnv: {...GENUINE.parentEnv, PYTHONPATH: '/home/u'}},
    'runtime-env-unsafe',
  ],
  ['CLI environment unreadable', {parentEnv: null}, 'runtime-env-unsafe'],
  // the config file
  ['config file changed since the launcher wrote it', {configHash: 'd'.repeat(64)}, 'config-mismatch'],
  ['config file unreadable', {configHash: null}, 'config-mismatch'],
  // the final re-check
  ['CLI exited before the answer', {recheck: null}, 'parent-gone'],
  ['CLI pid reused before the answer', {recheck: {...CLI, startTime: '6000'}}, 'parent-gone'],
  ['CLI reparented before the answer', {recheck: {...CLI, ppid: 1}}, 'parent-gone'],
]

/** precheckCaller over GENUINE with `change`: what the helper answers before it touches the store. */
function pre(change: Partial<Facts>): 'ok' | RefusalReason {
  const facts = {...GENUINE, ...change}
  const result = precheckCaller({...facts, trust: collectTrust(facts, FAKE_FS)})
  return result.ok ? 'ok' : result.reason
}

describe('caller check', () => {
  for (const [name, change, expected] of TABLE) {
    it(`${name} → ${expected}`, () => {
      assert.equal(verdict({...GENUINE, ...change}), expected)
    })
  }

  it('the table covers every caller-check reason code', () => {
    const afterCheck = new Set([
      'audit-failed',
      'config-invalid',
      // The custody entry point's own checks of who ran sudo (custody-main.ts; test/unit/custody.test.ts).
      'custody-caller-untrusted',
      'custody-not-authenticated',
      'custody-not-sudo',
      'internal',
      'mfa-declined',
      'mfa-unavailable',
      'not-stored',
      // The release verb's check against root's run record (verifyRunCaller; test/unit/run-record.test.ts).
      'run-expired',
      'run-unknown',
      // Getting IAM Identity Center role credentials after the check (test/unit/sessions/sso.test.ts).
      'sso-failed',
      'sso-login-needed',
      'store-corrupt',
      'store-unavailable',
      'sts-failed',
      'usage',
    ])
    const covered = new Set(TABLE.map((row) => row[2]))
    const missing = REFUSAL_REASONS.filter((r) => !afterCheck.has(r) && !covered.has(r))
    assert.deepEqual(missing, [])
  })

  it('prechecks the chain without a token: genuine passes, impostors are refused with their reason', () => {
    assert.equal(pre({}), 'ok')
    assert.equal(pre(withCli({argv: ['bash'], exe: '/usr/bin/bash'})), 'parent-not-runtime')
    assert.equal(pre(withLauncher({exe: '/home/u/node'})), 'launcher-untrusted')
    assert.equal(pre({grandparentEnv: {NODE_OPTIONS: '--require x'}}), 'launcher-env-unsafe')
    assert.equal(pre({grandparent: null}), 'grandparent-not-launcher')
    assert.equal(pre({helper: {...HELPER, tracerPid: 9}}), 'traced')
  })

  it('treats a path it was not given a verdict for as untrusted', () => {
    const result = verifyCaller({...GENUINE, trust: {}})
    assert.deepEqual(result.ok ? 'ok' : result.reason, 'parent-not-runtime')
  })
})
