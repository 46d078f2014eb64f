/**
 * Custody mode end to end: `av install --custody` as root (real sudoers drop-in with a unique name, removed after),
 * `av migrate` as the unprivileged test user moving the canary key from ~/.aws/credentials into custody, then
 * `av run -- aws …` through the real AWS CLI v2 against the local SigV4 endpoint that serves av's STS calls. The
 * user's uid never holds the durable key: not in its keychain, files, output or any process environment; only
 * root's custody entry point signs GetSessionToken with it. Then the way out: `av restore` (root asks a person
 * through a root-owned approver program) and `av uninstall` (the key goes back into the user's keychain), each
 * ending byte-identical.
 */
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'

import {PREWARM_PYTHON} from '../../src/lib/run/prewarm.js'
import {BAD_TOKENS, HELPER_REFUSED} from './support/bad-tokens.js'
import {assertNoSecret, canaryKey, filesWithSecret} from './support/canary.js'
import {
  custodyArgs,
  e2eTempDir,
  installAv,
  type Installed,
  newDropIn,
  removeInstall,
  REPO_ROOT,
  sweepStaleDropIns,
} from './support/install.js'
import {descendants} from './support/procfs.js'
import {typing} from './support/pty.js'
import {type SigV4Endpoint, startEndpoint} from './support/sigv4-endpoint.js'
import {type KeyringSandbox, type RunResult, startKeyringSandbox} from './support/user-sandbox.js'

const DURABLE = canaryKey('C057')
/** The test user's login password while this suite runs (its account is locked again after). */
const PASSWORD = `e2e-${randomBytes(6).toString('hex')}`
const SUDO = '/usr/bin/sudo'
const ORIGINAL = {
  config:
    '# mine\n[default]\nregion = eu-west-1\n\n' +
    '[profile mfa]\nmfa_serial = arn:aws:iam::123456789012:mfa/canary\nregion = eu-west-1\n',
  credentials:
    `# my keys\n[default]\naws_access_key_id = ${DURABLE.accessKeyId}\naws_secret_access_key = ${DURABLE.secretAccessKey}\n\n` +
    `[mfa]\naws_access_key_id = ${DURABLE.accessKeyId}\naws_secret_access_key = ${DURABLE.secretAccessKey}\n`,
}

function uidOf(pid: number): number {
  return Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1])
}

function assertClean(r: RunResult): void {
  assertNoSecret({stderr: r.stderr, stdout: r.stdout}, [DURABLE.secretAccessKey])
}

/** No key, session or signature of any kind in what a held run printed. */
function assertNothingPrinted(r: RunResult): void {
  assertClean(r)
  assert.doesNotMatch(r.stdout + r.stderr, /avCanarySession|SecretAccessKey|AWS_SECRET_ACCESS_KEY|X-Amz-Signature/)
}

describe('custody mode: root holds the key, the user only ever gets sessions', () => {
  let sandbox: KeyringSandbox
  let endpoint: SigV4Endpoint
  let install: Installed
  let custodyBase: string
  let custodyDir: string
  let entry: string
  /** The root-owned approver program approves while this root-only file exists. */
  let approveFlag: string
  const sudoersFile = newDropIn()
  const installArgs = () => custodyArgs(custodyBase, sudoersFile)

  /** `av run -- aws sts get-caller-identity` against the local endpoint, as argv. */
  function callerIdentityArgv(profile?: string): string[] {
    const argv = ['/usr/bin/node', install.av, 'run', '--', 'aws', 'sts', 'get-caller-identity']
    return [...argv, '--endpoint-url', endpoint.url, ...(profile ? ['--profile', profile] : [])]
  }

  async function callerIdentity(profile?: string): Promise<RunResult> {
    return sandbox.run(callerIdentityArgv(profile), {env: install.env})
  }

  /** `sudo -n <entry> <args>` from a shell of the test user (the shell is sudo's parent). */
  async function custody(args: string[], input: string): Promise<RunResult> {
    return sandbox.run(['/bin/sh', '-c', `${SUDO} -n "$@"; exit $?`, 'sh', entry, ...args], {input})
  }

  function operations(): Array<[null | string, null | string, boolean]> {
    return endpoint.requests.map((r) => [r.operation, r.accessKeyId, r.verified])
  }

  function awsFile(name: 'config' | 'credentials'): string {
    return readFileSync(path.join(sandbox.home, '.aws', name), 'utf8')
  }

  async function av(args: string[], installed = install): Promise<RunResult> {
    return sandbox.run(['/usr/bin/node', installed.av, ...args], {env: installed.env})
  }

  /** Run `body` with the install's root policy naming only `approvers`, then put the policy back. */
  async function withApprovers<T>(approvers: unknown[], body: () => Promise<T>): Promise<T> {
    const text = readFileSync(install.policyFile, 'utf8')
    writeFileSync(install.policyFile, JSON.stringify({...JSON.parse(text), approvers}), {mode: 0o644})
    try {
      return await body()
    } finally {
      writeFileSync(install.policyFile, text, {mode: 0o644})
    }
  }

  function custodyAccounts(): string[] {
    const dir = path.join(custodyDir, String(sandbox.user.uid))
    return readdirSync(dir)
      .filter((name) => name.endsWith('.item'))
      .map((name) => Buffer.from(name.slice(0, -5), 'base64url').toString('utf8'))
      .sort()
  }

  before(async () => {
    endpoint = await startEndpoint({credentials: [DURABLE], sessionSecretPrefix: 'avCanarySessionSecret'})
    sweepStaleDropIns()
    custodyBase = e2eTempDir('custody-')
    custodyDir = path.join(custodyBase, 'custody')
    approveFlag = path.join(custodyBase, 'approve')
    const approver = path.join(custodyBase, 'approver.sh')
    // It answers MFA code requests with a code, approval requests with its exit status.
    writeFileSync(approver, `#!/bin/sh\ncat >/dev/null\necho 123456\ntest -e '${approveFlag}'\n`, {mode: 0o755})
    install = installAv(
      {
        approvers: [{program: approver}],
        custody: {approvalTimeoutSeconds: 8},
        iam: {endpoint: endpoint.url},
        sts: {endpoint: endpoint.url},
      },
      REPO_ROOT,
      installArgs(),
    )
    entry = path.join(install.prefix, 'libexec', 'av-custody')
    // A user of its own, whose home in the account database is the sandbox's HOME (where av keeps the audit trail).
    sandbox = await startKeyringSandbox()
    const {user} = sandbox
    const chpasswd = spawnSync('/usr/sbin/chpasswd', {encoding: 'utf8', input: `${user.name}:${PASSWORD}\n`})
    assert.equal(chpasswd.status, 0, chpasswd.stderr)
    // The user's own files, as a person has them before av (written by root, handed to the user).
    const aws = path.join(sandbox.home, '.aws')
    mkdirSync(aws, {mode: 0o700})
    for (const [name, text] of Object.entries(ORIGINAL)) writeFileSync(path.join(aws, name), text, {mode: 0o600})
    for (const p of [aws, path.join(aws, 'config'), path.join(aws, 'credentials')]) chownSync(p, user.uid, user.gid)
    const migrated = await av(['migrate', '--yes'])
    assert.equal(migrated.code, 0, migrated.stderr)
    assert.match(migrated.stdout, /moved the keys of default, mfa into root custody/)
    assertClean(migrated)
    assert.ok(!awsFile('credentials').includes(DURABLE.secretAccessKey))
    assert.deepEqual(custodyAccounts(), ['aws:default', 'aws:mfa'])
  })

  after(async () => {
    if (sandbox) spawnSync('/usr/sbin/usermod', ['-p', '!', sandbox.user.name])
    await sandbox?.stop()
    removeInstall(install)
    rmSync(sudoersFile, {force: true})
    if (custodyBase) rmSync(custodyBase, {force: true, recursive: true})
    await endpoint?.stop()
  })

  it('installs a root-only 0440 drop-in for exactly the launcher, the entry point and its password-guarded twin, which visudo accepts', () => {
    const rules = readFileSync(sudoersFile, 'utf8')
      .split('\n')
      .filter((line) => line && !line.startsWith('#'))
    const launch = path.join(install.prefix, 'libexec', 'av-launch')
    assert.deepEqual(rules, [
      `ALL ALL=(root) NOPASSWD: ${entry}, ${launch}`,
      `ALL ALL=(root) PASSWD: ${entry}-auth`,
      `Defaults!${entry}-auth timestamp_timeout=0`,
      `Defaults!${launch} !use_pty, env_keep = "AV_TRACE AWS_CONFIG_FILE AWS_DEFAULT_OUTPUT AWS_DEFAULT_PROFILE AWS_DEFAULT_REGION AWS_PROFILE AWS_REGION COLUMNS LANG LC_ALL LC_COLLATE LC_CTYPE LC_MESSAGES LC_MONETARY LC_NUMERIC LC_TIME LINES NO_COLOR TERM TZ"`,
      `Defaults!${entry} !use_pty, env_keep = "AV_TRACE"`,
    ])
    // The AWS CLI's interpreter: a copy users may execute but not read.
    const python = statSync(path.join(install.prefix, 'libexec', 'aws-python3'))
    assert.deepEqual([python.uid, python.mode & 0o777], [0, 0o711])
    const s = statSync(sudoersFile)
    assert.deepEqual([s.uid, s.mode & 0o777], [0, 0o440])
    assert.equal(spawnSync('/usr/sbin/visudo', ['-c'], {encoding: 'utf8'}).status, 0)
    assert.equal(spawnSync('/usr/sbin/visudo', ['-cf', sudoersFile], {encoding: 'utf8'}).status, 0)
    const dir = statSync(custodyDir)
    assert.deepEqual([dir.uid, dir.mode & 0o777], [0, 0o700])
  })

  it('the key is in no place the user can read: keychain, custody directory, files', async () => {
    // The keyring answers (a marker item is found), and holds nothing of av's.
    const marker = await sandbox.sh(
      'printf x | secret-tool store --label=m service av-e2e-marker && secret-tool search --all service av-e2e-marker',
    )
    assert.match(marker.stdout + marker.stderr, /service = av-e2e-marker/)
    // Only av's own audit chain items (the user's migrate was audited); no key item, no key.
    const search = await sandbox.run(['/usr/bin/secret-tool', 'search', '--all', 'service', 'av'])
    assert.deepEqual([...search.stdout.matchAll(/^label = (.+)$/gm)].map((m) => m[1]).sort(), [
      'keyring:audit-head@av',
      'keyring:audit-key@av',
    ])
    const list = await sandbox.run(['ls', custodyDir])
    assert.notEqual(list.code, 0)
    assert.match(list.stderr, /Permission denied/)
    const cat = await sandbox.sh(`cat ${custodyDir}/*/* ${custodyDir}/${sandbox.user.uid}/*`)
    assert.notEqual(cat.code, 0)
    assertClean(search)
    assertClean(cat)
    assert.deepEqual(filesWithSecret(sandbox.base), [])
    assert.deepEqual(
      filesWithSecret(install.dir, (p) => p.includes('/node_modules/')),
      [],
    )
  })

  it('av status and av doctor say custody mode, and flag a durable key left in the keychain', async () => {
    const status = await av(['status'])
    assert.equal(status.code, 0, status.stderr)
    assert.match(status.stdout, /^mode: custody /m)
    assert.match(status.stdout, /^default: root custody, config runs av/m)
    // The sealed item still says when av stored the key.
    assert.match(status.stdout, /^default: .*; key age 0 days \(stored by av; the key may be older\)$/m)
    assertClean(status)
    // A key a keychain-mode migrate would have left (not the canary: a made-up one).
    const leftover = await sandbox.sh(
      `printf '%s' '{"v":1,"accessKeyId":"AKIAAVLEFTOVERFAKE01","secretAccessKey":"left-over-fake"}' | ` +
        'secret-tool store --label=keyring:aws:old@av service av username aws:old',
    )
    assert.equal(leftover.code, 0, leftover.stderr)
    try {
      const doctor = await av(['doctor', '--json'])
      assertClean(doctor)
      const checks = new Map(
        (JSON.parse(doctor.stdout) as {checks: Array<{id: string; status: string}>}).checks.map((c) => [
          c.id,
          c.status,
        ]),
      )
      assert.deepEqual(
        ['mode', 'custody-entry', 'custody-view', 'keychain-leftover:old', 'key-age'].map((id) => checks.get(id)),
        ['ok', 'ok', 'ok', 'fail', 'warn'],
      )
      // Root asked IAM with the key it holds: the endpoint's keys were made on 2026-01-02, long over 90 days.
      const keyAge = (
        JSON.parse(doctor.stdout) as {checks: Array<{id: string; message: string; fix?: string}>}
      ).checks.find((c) => c.id === 'key-age')!
      // Both profiles of this suite hold the same durable key; each is named with IAM's age.
      assert.match(
        keyAge.message,
        /^keys are over 90 days old: default \d+ days \(IAM's CreateDate\); mfa \d+ days \(IAM's CreateDate\)$/,
      )
      assert.match(keyAge.fix!, /av rotate --profile default/)
      const listed = endpoint.requests.filter((q) => q.operation === 'ListAccessKeys')
      assert.ok(listed.length > 0 && listed.every((q) => q.accessKeyId === DURABLE.accessKeyId && q.verified))
      const warned = await av(['status'])
      assert.match(warned.stdout, /durable key of old is still in your OS keychain/)
    } finally {
      await sandbox.run(['/usr/bin/secret-tool', 'clear', 'service', 'av', 'username', 'aws:old'])
    }
  })

  /** The user's processes of this suite holding the durable canary in environment or argv; and root custody's. */
  function scanProcesses(): {custodyNode: number; custodyRoot: number; leaks: number[]; user: number} {
    const found = {custodyNode: 0, custodyRoot: 0, leaks: [] as number[], user: 0}
    for (const pid of descendants(process.pid)) {
      try {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1')
        if (uidOf(pid) !== sandbox.user.uid) {
          // The entry script run by sudo for the CLI's release (its fast path, answered by the root launcher), or the
          // entry point it execs when no launcher serves the run.
          if (cmdline.includes('av-custody\0release') || cmdline.includes('custody-main.js\0release'))
            found.custodyRoot++
          if (cmdline.includes('custody-main.js\0release')) found.custodyNode++
          continue
        }

        found.user++
        const text = readFileSync(`/proc/${pid}/environ`, 'latin1') + cmdline
        if (text.includes(DURABLE.secretAccessKey) || text.includes('avCanarySecret')) found.leaks.push(pid)
      } catch {
        // exited meanwhile
      }
    }

    return found
  }

  it('av run works end to end: the CLI signs with a session; no user process ever holds the durable key', async () => {
    endpoint.clear()
    // While root signs GetSessionToken with the durable key, and again while the CLI signs with the session.
    endpoint.hold((r) => r.operation === 'GetSessionToken')
    const running = callerIdentity()
    await endpoint.waitForRequest((r) => r.operation === 'GetSessionToken')
    const duringSts = scanProcesses()
    endpoint.release()
    endpoint.hold((r) => r.operation === 'GetCallerIdentity')
    const call = await endpoint.waitForRequest((r) => r.operation === 'GetCallerIdentity')
    const duringCli = scanProcesses()
    endpoint.release()
    const r = await running
    assert.equal(r.code, 0, r.stderr)
    assert.equal(duringSts.custodyRoot, 1, 'root custody was releasing during the first scan')
    // One root Node process per call: the root launcher answers the release, no second one starts for it.
    assert.equal(duringSts.custodyNode, 0, 'the release was answered by the root launcher, not a new entry point')
    assert.ok(duringSts.user >= 3, 'av run, sudo and the CLI were inspected')
    assert.ok(duringCli.user >= 3, 'av run, sudo and the CLI were inspected')
    assert.deepEqual([duringSts.leaks, duringCli.leaks], [[], []])
    assertClean(r)
    assert.equal(JSON.parse(r.stdout).Account, '123456789012')
    assert.match(call.accessKeyId!, /^ASIA/)
    assert.deepEqual(operations(), [
      ['GetSessionToken', DURABLE.accessKeyId, true],
      ['GetCallerIdentity', call.accessKeyId, true],
    ])
    assert.equal(call.hasSecurityToken, true)
    assert.deepEqual(filesWithSecret(sandbox.base), [])
  })

  it('a second run reuses the session cached in custody (no STS call), and it is audited root-side', async () => {
    endpoint.clear()
    const r = await callerIdentity()
    assert.equal(r.code, 0, r.stderr)
    assertClean(r)
    assert.deepEqual(
      operations().map((o) => o[0]),
      ['GetCallerIdentity'],
    )
    const audit = readFileSync(path.join(custodyDir, String(sandbox.user.uid), 'audit.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e.event === 'release')
      .map((e) => [e.credentials, e.cached])
    assert.deepEqual(audit.slice(-2), [
      ['session', false],
      ['session', true],
    ])
    assert.ok(
      !readFileSync(path.join(custodyDir, String(sandbox.user.uid), 'audit.jsonl'), 'utf8').includes('avCanary'),
    )
  })

  it('inside a terminal the run works the same', async () => {
    endpoint.clear()
    const command = callerIdentityArgv().join(' ')
    const r = await sandbox.run(['/usr/bin/script', '-qec', `tty >&2; ${command}`, '/dev/null'], {env: install.env})
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.match(r.stdout, /\/dev\/pts\/\d+/)
    assert.match(r.stdout, /"Account": "123456789012"/)
    assertClean(r)
    assert.deepEqual(
      operations().map((o) => o[0]),
      ['GetCallerIdentity'],
    )
  })

  it('av session clear drops the session cached in custody; the next run asks STS again', async () => {
    const cleared = await av(['session', 'clear', '--profile', 'default'])
    assert.equal(cleared.code, 0, cleared.stderr)
    assert.match(cleared.stdout, /Cleared 1 cached session\(s\): session:default/)
    assert.ok(!custodyAccounts().includes('session:default'))
    assert.ok(custodyAccounts().includes('aws:default'))
    // Only session items can be dropped through it, never a durable key.
    const durable = await custody(['drop-sessions'], JSON.stringify({accounts: ['aws:default']}))
    assert.equal(durable.code, 2)
    assert.match(durable.stderr, /only session:<profile> and role:<profile> items/)
    // Nor through remove without the proof of holding it (an agent never saw the key).
    const forged = await custody(['remove'], JSON.stringify({profile: 'default', proof: 'f'.repeat(64)}))
    assert.equal(forged.code, 126)
    assert.match(forged.stderr, /refused \(custody-caller-untrusted\): no proof of holding the key of default/)
    assert.ok(custodyAccounts().includes('aws:default'))
    endpoint.clear()
    const r = await callerIdentity()
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(
      operations().map((o) => o[0]),
      ['GetSessionToken', 'GetCallerIdentity'],
    )
  })

  /** The live AWS CLI process of a run (root reads /proc): a child of the root launcher running the 0711 copy. */
  function liveCli(): {argv: string[]; launcher: number; pid: number} {
    for (const pid of descendants(process.pid)) {
      try {
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').slice(0, -1)
        if (argv[0]?.endsWith('/libexec/aws-python3') && uidOf(pid) === sandbox.user.uid) {
          const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
          return {argv, launcher: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]), pid}
        }
      } catch {}
    }

    throw new Error('no live AWS CLI')
  }

  it('release goes only to the run’s own CLI, whose memory and environment the user cannot open', async () => {
    endpoint.clear()
    endpoint.hold((r) => r.operation === 'GetCallerIdentity')
    const running = callerIdentity()
    await endpoint.waitForRequest((r) => r.operation === 'GetCallerIdentity')
    const cli = liveCli()
    assert.equal(uidOf(cli.launcher), 0, 'the CLI’s parent is the root launcher')
    const runHome = path.join(custodyBase, 'run', String(sandbox.user.uid))
    const id = readdirSync(runHome)
      .find((n) => n.startsWith('home-'))!
      .slice(5)
    const config = path.join(runHome, `home-${id}`, '.aws', 'config')
    // The run's config is the user's to read (nothing secret), not to change.
    const read = await sandbox.run(['cat', config])
    assert.match(
      read.stdout,
      new RegExp(`credential_process = /usr/bin/sudo -n \\S+/av-custody release --profile default --run ${id}`),
    )
    const write = await sandbox.sh(`echo x >> ${config}`)
    assert.notEqual(write.code, 0)
    // The directory where the launcher takes this run's releases is root's alone: the user can neither list it nor
    // leave a FIFO of their own there for the launcher to answer.
    const serve = path.join(runHome, `serve-${id}`)
    const squat = await sandbox.sh(`ls ${serve} && echo listed; mkfifo ${serve}/4242 && echo made`)
    assert.doesNotMatch(squat.stdout, /listed|made/)
    assert.equal(statSync(serve).uid, 0)
    assert.equal(statSync(serve).mode & 0o777, 0o700)
    // The user cannot open the CLI's (or the launcher's) environment, memory map or memory, nor trace either.
    const peek = await sandbox.sh(
      `for f in environ maps mem; do cat /proc/${cli.pid}/$f >/dev/null 2>&1 && echo "read $f"; done; ` +
        `strace -p ${cli.pid} -o /dev/null & s=$!; sleep 1; kill $s 2>/dev/null; wait $s; echo "strace cli $?"; ` +
        `strace -p ${cli.launcher} -o /dev/null & s=$!; sleep 1; kill $s 2>/dev/null; wait $s; echo "strace launcher $?"`,
    )
    assert.doesNotMatch(peek.stdout, /^read /m)
    assert.match(peek.stdout, /^strace cli 1$/m)
    assert.match(peek.stdout, /^strace launcher 1$/m)
    // Asking root for the run's credentials: from a shell, for a run that does not exist, and from the CLI's own
    // interpreter started by the user with the CLI's exact argv and config (its parent is not the root launcher).
    const fromShell = await custody(['release', '--profile', 'default', '--run', id], '')
    const unknown = await custody(['release', '--profile', 'default', '--run', 'ab'.repeat(8)], '')
    const copy = await sandbox.run(cli.argv, {
      cleanEnv: true,
      env: {
        AWS_CONFIG_FILE: config,
        AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
        HOME: sandbox.home,
        PATH: '/usr/bin:/bin',
      },
    })
    // The keychain helper, which custody runs never use, refuses like any impostor.
    const helper = await sandbox.run(['/usr/bin/node', install.av, 'credential-helper', 'aws'], {
      env: {...install.env, AV_RUN_TOKEN: 'v1.garbage'},
    })
    endpoint.release()
    assert.equal((await running).code, 0)
    for (const [r, reason] of [
      [fromShell, 'parent-not-runtime'],
      [unknown, 'run-unknown'],
      [copy, 'grandparent-not-launcher'],
      [helper, 'token-malformed'],
    ] as const) {
      assert.notEqual(r.code, 0, r.stderr)
      assert.ok(!r.stdout.includes('SecretAccessKey'), r.stdout)
      assert.match(r.stderr, new RegExp(`refused \\(${reason}\\)`))
      assertClean(r)
    }

    // Root recorded its refusals in the user's custody audit log.
    const refusals = readFileSync(path.join(custodyDir, String(sandbox.user.uid), 'audit.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e.event === 'refusal')
      .map((e) => e.reason)
    assert.deepEqual(refusals.slice(-3), ['parent-not-runtime', 'run-unknown', 'grandparent-not-launcher'])
    // None of these reached STS or AWS: only the held genuine run signed anything.
    assert.deepEqual(
      operations().map((o) => o[0]),
      ['GetCallerIdentity'],
    )
  })

  /** Held commands an agent would want printed, each against the local endpoint where it sends anything. */
  const HELD: string[][] = [
    ['secretsmanager', 'get-secret-value', '--secret-id', 'prod/db'],
    ['configure', 'export-credentials'],
    ['s3', 'presign', 's3://bucket/key'],
    ['ssm', 'get-parameter', '--name', 'x', '--with-decryption'],
  ]

  function shim(args: string[]): string[] {
    return [install.aws, ...args, '--endpoint-url', endpoint.url, '--region', 'eu-west-1']
  }

  /** The custody audit log's gate and approval lines since `from`. */
  function rootAudit(from = 0): Array<Record<string, unknown>> {
    return readFileSync(path.join(custodyDir, String(sandbox.user.uid), 'audit.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .slice(from)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
  }

  it('an agent-driven pty answering `y` to a held command gets 126, and the endpoint sees nothing', async () => {
    await withApprovers(['tty'], () => heldOnPty())
  })

  /** With only "tty" as approver (which custody never counts), the user's password is the one way through. */
  async function heldOnPty(): Promise<void> {
    endpoint.clear()
    for (const args of HELD) {
      // eslint-disable-next-line no-await-in-loop -- one pty at a time
      const r = await sandbox.sh(typing('y', shim(args).join(' ')), {env: install.env, timeoutMs: 60_000})
      assert.equal(r.code, 126, `${args.join(' ')}: ${r.stdout}`)
      assert.match(r.stdout, /av: this command is held until you approve it with your password/)
      assert.match(r.stdout, new RegExp(`\\[av\\] password for ${sandbox.user.name} to approve [\\da-f]{6}:`))
      assertNothingPrinted(r)
    }

    assert.equal(endpoint.requests.length, 0)
  }

  it('the right password typed on the pty lets that one run through; the next identical run asks again', async () => {
    await withApprovers(['tty'], () => passwordOnPty())
  })

  async function passwordOnPty(): Promise<void> {
    endpoint.clear()
    const from = rootAudit().length
    const command = shim(HELD[0]!).join(' ')
    const approved = await sandbox.sh(typing(PASSWORD, command), {env: install.env, timeoutMs: 60_000})
    assertNothingPrinted(approved)
    // The endpoint does not implement Secrets Manager, but it verified the request, signed with a session.
    assert.deepEqual(
      endpoint.requests.map((r) => [r.operation, r.verified, r.accessKeyId?.startsWith('ASIA'), r.hasSecurityToken]),
      [['GetSecretValue', true, true, true]],
    )
    const again = await sandbox.sh(typing('y', command), {env: install.env, timeoutMs: 60_000})
    assert.equal(again.code, 126, again.stdout)
    assert.equal(endpoint.requests.length, 1)
    const answers = rootAudit(from)
      .filter((e) => e.event === 'gate' && e.answer !== undefined)
      .map((e) => e.answer)
    assert.deepEqual(answers, ['approved', 'denied'])
    assert.equal(rootAudit(from).filter((e) => e.event === 'approval' && e.answer === 'approved').length, 1)
  }

  it('with no terminal a held run waits: av approve with the password lets exactly it through, a wrong one does not, av deny ends it', async () => {
    await withApprovers(['tty'], () => approveElsewhere())
  })

  async function approveElsewhere(): Promise<void> {
    endpoint.clear()
    const from = rootAudit().length
    const held = (args: string[]) =>
      sandbox.spawn(['/usr/bin/setsid', '-w', ...shim(args)], {env: install.env, timeoutMs: 60_000})
    async function idOf(): Promise<string> {
      for (let i = 0; i < 100; i++) {
        // eslint-disable-next-line no-await-in-loop -- polling root's list of held runs
        const list = await av(['approve', '--json'])
        assert.equal(list.code, 0, list.stderr + list.stdout)
        const {pending} = JSON.parse(list.stdout) as {pending: Array<{id: string}>}
        if (pending.length === 1) return pending[0]!.id
        // eslint-disable-next-line no-await-in-loop -- polling
        await new Promise((resolve) => {
          setTimeout(resolve, 100)
        })
      }

      throw new Error('no held run appeared')
    }

    // A wrong password: the run stays held, then times out (126), nothing sent.
    const first = held(HELD[0]!)
    const firstId = await idOf()
    const wrong = await sandbox.sh(typing('not-the-password', `/usr/bin/node ${install.av} approve ${firstId}`), {
      env: install.env,
      timeoutMs: 30_000,
    })
    assert.notEqual(wrong.code, 0, wrong.stdout)
    assert.match(wrong.stdout, /the password was not given/)
    const timedOut = await first.result
    assert.equal(timedOut.code, 126, timedOut.stderr)
    assert.match(timedOut.stderr, new RegExp(`run \`av approve ${firstId}\` in your own terminal`))
    assert.match(timedOut.stderr, /no approval came in time/)
    assertNothingPrinted(timedOut)
    assert.equal(endpoint.requests.length, 0)

    // av deny ends it at once.
    const second = held(HELD[0]!)
    const secondId = await idOf()
    const denied = await av(['deny', secondId])
    assert.equal(denied.code, 0, denied.stderr)
    const deniedRun = await second.result
    assert.equal(deniedRun.code, 126)
    assert.ok(deniedRun.ms < 8000, 'av deny ended the run before its timeout')
    assert.equal(endpoint.requests.length, 0)

    // The right password from another pty lets exactly that run through.
    const third = held(HELD[0]!)
    const thirdId = await idOf()
    const approve = await sandbox.sh(typing(PASSWORD, `/usr/bin/node ${install.av} approve ${thirdId}`), {
      env: install.env,
      timeoutMs: 30_000,
    })
    assert.equal(approve.code, 0, approve.stdout)
    assert.match(approve.stdout, /secretsmanager get-secret-value --secret-id prod\/db/)
    assert.match(approve.stdout, new RegExp(`approved ${thirdId}`))
    const approvedRun = await third.result
    assertNothingPrinted(approvedRun)
    assert.deepEqual(
      endpoint.requests.map((r) => [r.operation, r.verified]),
      [['GetSecretValue', true]],
    )
    for (const r of [wrong, denied, approve]) assertClean(r)
    // Every answer is in root's audit log: the timeout, the deny, the approval.
    const gates = rootAudit(from)
      .filter((e) => e.event === 'gate' && e.answer !== undefined)
      .map((e) => e.answer)
    assert.deepEqual(gates, ['unavailable', 'denied', 'approved'])
    assert.deepEqual(
      rootAudit(from)
        .filter((e) => e.event === 'approval')
        .map((e) => e.answer),
      ['denied', 'approved'],
    )
  }

  it('the CLI’s interpreter loads while root decides: a held run’s is root’s child, closed to the user, and dies unused on av deny', async () => {
    await withApprovers(['tty'], async () => {
      endpoint.clear()
      const args = shim(HELD[0]!).slice(1)
      const run = sandbox.spawn(['/usr/bin/setsid', '-w', install.aws, ...args], {env: install.env, timeoutMs: 60_000})
      let waiting: ReturnType<typeof liveCli> | undefined
      for (let i = 0; i < 100 && !waiting; i++) {
        try {
          waiting = liveCli()
        } catch {
          // eslint-disable-next-line no-await-in-loop -- polling until the entry has started it
          await new Promise((resolve) => {
            setTimeout(resolve, 100)
          })
        }
      }

      assert.ok(waiting, 'no CLI interpreter while the run is held')
      // Started by root (its parent is the root launcher), waiting with the prewarm program and the user's arguments.
      assert.equal(uidOf(waiting.launcher), 0)
      assert.ok(waiting.argv.includes(PREWARM_PYTHON))
      assert.deepEqual(waiting.argv.slice(-args.length), args)
      // The user can neither open its environment, memory or fds nor trace it, nor reach the FIFO root talks to it on.
      const runs = path.join(custodyBase, 'run', String(sandbox.user.uid), 'runs')
      const peek = await sandbox.sh(
        `for f in environ maps mem; do cat /proc/${waiting.pid}/$f >/dev/null 2>&1 && echo "read $f"; done; ` +
          `ls /proc/${waiting.pid}/fd >/dev/null 2>&1 && echo "read fd"; ls ${runs} >/dev/null 2>&1 && echo listed; ` +
          `strace -p ${waiting.pid} -o /dev/null & s=$!; sleep 1; kill $s 2>/dev/null; wait $s; echo "strace $?"`,
      )
      assert.doesNotMatch(peek.stdout, /^(?:read |listed)/m)
      assert.match(peek.stdout, /^strace 1$/m)
      const list = await av(['approve', '--json'])
      const {pending} = JSON.parse(list.stdout) as {pending: Array<{id: string}>}
      assert.equal(pending.length, 1, list.stdout)
      assert.equal((await av(['deny', pending[0]!.id])).code, 0)
      const denied = await run.result
      assert.equal(denied.code, 126, denied.stderr)
      assertNothingPrinted(denied)
      // It ran nothing: no request reached the endpoint, it is gone, and no FIFO is left behind.
      assert.equal(endpoint.requests.length, 0)
      assert.equal(
        existsSync(`/proc/${waiting.pid}/cmdline`) &&
          readFileSync(`/proc/${waiting.pid}/cmdline`, 'latin1').includes('import os'),
        false,
      )
      assert.deepEqual(
        readdirSync(runs).filter((name) => name.startsWith('prewarm-')),
        [],
      )
    })
  })

  it('a waiting interpreter named by the user (AV_PREWARM in the environment) is never adopted, signalled or unlinked by root', async () => {
    // The user's own process and FIFO, offered to the root launcher as if the entry script had started them.
    const decoy = sandbox.spawn(['/bin/sh', '-c', 'mkfifo "$HOME/decoy-fifo" && exec sleep 30'], {timeoutMs: 60_000})
    const fifo = path.join(sandbox.home, 'decoy-fifo')
    const sleeper = decoy.pid
    const running = () =>
      existsSync(`/proc/${sleeper}`) && readFileSync(`/proc/${sleeper}/cmdline`, 'latin1').startsWith('sleep')
    for (let i = 0; i < 50 && !running(); i++) {
      // eslint-disable-next-line no-await-in-loop -- polling until the decoy is there
      await new Promise((resolve) => {
        setTimeout(resolve, 50)
      })
    }

    assert.ok(running() && existsSync(fifo), 'the decoy process and its FIFO are there')
    const r = await sandbox.run(shim(['sts', 'get-caller-identity']), {
      env: {...install.env, AV_PREWARM: `${sleeper}:${fifo}`},
    })
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /"Arn"/)
    assertClean(r)
    // sudo's env_reset and the entry script's `env -i` keep the variable from root, and root adopts only its own
    // child besides: the decoy lives, its FIFO stays.
    assert.ok(running(), 'root left the user’s process alone')
    assert.ok(existsSync(fifo), 'root left the user’s FIFO alone')
    process.kill(sleeper, 'SIGTERM')
    await decoy.result
  })

  it('code injected into what the aws shim starts never reaches root: a held command stays held', async () => {
    await withApprovers(['tty'], () => injected())
  })

  async function injected(): Promise<void> {
    endpoint.clear()
    await sandbox.sh(
      `printf '%s' 'process.stderr.write("INJECTED\\n")' > ~/inject.cjs && ` +
        `printf '%s' '__attribute__((constructor)) static void f(void){ write(2, "PRELOADED\\n", 10); }' > ~/p.c`,
    )
    const lib = path.join(sandbox.home, 'p.so')
    const cc = spawnSync('gcc', ['-shared', '-fPIC', '-w', '-o', lib, path.join(sandbox.home, 'p.c')], {
      encoding: 'utf8',
    })
    assert.equal(cc.status, 0, cc.stderr)
    const env = {...install.env, LD_PRELOAD: lib, NODE_OPTIONS: `--require ${sandbox.home}/inject.cjs`}
    const viaShim = await sandbox.run(['/usr/bin/setsid', '-w', ...shim(HELD[0]!)], {env, timeoutMs: 60_000})
    // av run (a Node process of the user: the injected code runs there, and can only ask root like anyone).
    const viaRun = await sandbox.run(
      ['/usr/bin/setsid', '-w', '/usr/bin/node', install.av, 'run', '--', 'aws', ...shim(HELD[0]!).slice(1)],
      {env, timeoutMs: 60_000},
    )
    for (const r of [viaShim, viaRun]) {
      assert.equal(r.code, 126, r.stderr)
      assert.match(r.stderr, /no approval came in time/)
      assertNothingPrinted(r)
    }

    // The injected module ran only in the user's own av run process, never in the root launcher (sudo reset the
    // environment): once through av run, not at all through the shim, which starts no Node process of the user.
    assert.deepEqual(
      [viaShim, viaRun].map((r) => r.stderr.match(/INJECTED/g)?.length ?? 0),
      [0, 1],
    )
    assert.equal(endpoint.requests.length, 0)
  }

  it('`av run -- aws` through the installed av takes the aws shim’s path: no Node of the user’s to inject into', async () => {
    const av = path.join(install.binDir, 'av')
    await sandbox.sh(`printf '%s' 'process.stderr.write("INJECTED\\n")' > ~/inject-av.cjs`)
    const argv = [av, 'run', '--', 'aws', 'sts', 'get-caller-identity', '--endpoint-url', endpoint.url]
    endpoint.clear()
    const injected = await sandbox.run(argv, {
      env: {...install.env, NODE_OPTIONS: `--require ${sandbox.home}/inject-av.cjs`},
    })
    assert.equal(injected.code, 0, injected.stderr)
    assert.equal(JSON.parse(injected.stdout).Account, '123456789012')
    // Through `node <av> run` the module runs once, in the user's own Node (the test above); here in no process.
    assert.doesNotMatch(injected.stderr, /INJECTED/)
    assertClean(injected)
    assert.deepEqual(
      operations().map((o) => [o[0], o[2]]),
      [['GetCallerIdentity', true]],
    )

    endpoint.clear()
    const traced = await sandbox.run(['/usr/bin/strace', '-f', '-o', '/dev/null', ...argv], {env: install.env})
    assert.equal(traced.code, 126, traced.stderr)
    assert.match(traced.stderr, /refused \(traced\)/)
    assertClean(traced)
    // Anything but `run -- aws` is av itself.
    const help = await sandbox.run([av, 'run', '--help'], {env: install.env})
    assert.equal(help.code, 0, help.stderr)
    assert.match(help.stdout, /Usage: av run -- aws/)
    assert.equal(endpoint.requests.length, 0)
  })

  it('exit codes and Ctrl-C pass through; a file the CLI writes in the cwd is the user’s', async () => {
    const failed = await sandbox.run([
      install.aws,
      'sts',
      'get-caller-identity',
      '--endpoint-url',
      'http://127.0.0.1:9',
    ])
    assert.equal(failed.code, 255, failed.stderr)
    const work = sandbox.userDir('work')
    const copied = await sandbox.run(
      [install.aws, 's3', 'cp', 's3://bucket/key.txt', 'out.txt', '--endpoint-url', endpoint.url],
      {cwd: work},
    )
    assert.equal(copied.code, 0, copied.stderr)
    const out = statSync(path.join(work, 'out.txt'))
    assert.deepEqual(
      [out.uid, readFileSync(path.join(work, 'out.txt'), 'utf8')],
      [sandbox.user.uid, 'av test object\n'],
    )
    // Ctrl-C on the terminal while the CLI waits for the endpoint: the CLI stops, the exit code says SIGINT.
    endpoint.clear()
    endpoint.hold(() => true)
    const command = [install.aws, 'sts', 'get-caller-identity', '--endpoint-url', endpoint.url].join(' ')
    const interrupted = sandbox.sh(
      `(while [ ! -e ${work}/go ]; do sleep 0.2; done; printf '\\003'; sleep 5) | /usr/bin/script -qec '${command}' /dev/null`,
      {env: install.env, timeoutMs: 60_000},
    )
    await endpoint.waitForRequest(() => true)
    writeFileSync(path.join(work, 'go'), '')
    const r = await interrupted
    endpoint.release()
    assert.equal(r.code, 130, r.stdout)
    assertClean(r)
  })

  it('the helper answers bad tokens exactly as in keychain mode; a traced aws run is refused by name, before sudo', async () => {
    for (const [name, token, reason] of BAD_TOKENS) {
      // eslint-disable-next-line no-await-in-loop -- one after the other
      const r = await sandbox.run(['/usr/bin/node', install.av, 'credential-helper', 'aws'], {
        env: {...install.env, AV_RUN_TOKEN: token},
      })
      assert.equal(r.code, HELPER_REFUSED, `${name}: ${r.stderr}`)
      assert.match(r.stderr, reason, name)
      assert.equal(r.stdout, '')
    }

    endpoint.clear()
    for (const argv of [
      [install.aws, 'sts', 'get-caller-identity', '--endpoint-url', endpoint.url],
      ['/usr/bin/node', install.av, 'run', '--', 'aws', 'sts', 'get-caller-identity', '--endpoint-url', endpoint.url],
    ]) {
      // eslint-disable-next-line no-await-in-loop -- one after the other
      const traced = await sandbox.run(['/usr/bin/strace', '-f', '-o', '/dev/null', ...argv], {env: install.env})
      assert.equal(traced.code, 126, traced.stderr)
      assert.match(traced.stderr, /refused \(traced\)|the run is being traced/)
      assert.doesNotMatch(traced.stderr, /effective uid is not 0/)
      assertClean(traced)
    }

    assert.equal(endpoint.requests.length, 0)
  })

  it('refuses to install over a tampered (user-owned) entry point', () => {
    chownSync(entry, sandbox.user.uid, sandbox.user.gid)
    const reinstall = spawnSync(
      process.execPath,
      [
        path.join(REPO_ROOT, 'bin', 'run.js'),
        'install',
        '--prefix',
        install.prefix,
        '--bin-dir',
        install.binDir,
        '--policy',
        install.policyFile,
        ...installArgs(),
      ],
      {encoding: 'utf8', env: {...process.env, ...install.env}},
    )
    chownSync(entry, 0, 0)
    assert.equal(reinstall.status, 126, reinstall.stderr)
    assert.match(reinstall.stderr, /tampered/)
  })

  it('an elevated command (IAM) gets the durable key only with the user’s password, not an approver program', async () => {
    const iam = [install.aws, 'iam', 'list-users', '--endpoint-url', endpoint.url]
    endpoint.clear()
    // The approver program says yes, but an elevated run needs the password; with no terminal nobody gives it.
    writeFileSync(approveFlag, '')
    let typed: RunResult
    try {
      const noTerminal = await sandbox.run(['/usr/bin/setsid', '-w', ...iam], {env: install.env})
      assert.equal(noTerminal.code, 126, noTerminal.stderr)
      assert.match(noTerminal.stderr, /it runs with your durable AWS key/)
      assert.match(noTerminal.stderr, /no approval came in time/)
      assertClean(noTerminal)
      assert.deepEqual(operations(), [])
      typed = await sandbox.sh(typing(PASSWORD, iam.join(' ')), {env: install.env})
    } finally {
      rmSync(approveFlag, {force: true})
    }

    assert.match(typed.stdout, new RegExp(`\\[av\\] password for ${sandbox.user.name} to approve [\\da-f]{6}:`))
    // The local endpoint does not implement IAM (the CLI exits 254), but it verified who signed the call.
    assertClean(typed)
    const [call] = endpoint.requests
    assert.deepEqual([operations(), call?.hasSecurityToken], [[['ListUsers', DURABLE.accessKeyId, true]], false])
    const releases = readFileSync(path.join(custodyDir, String(sandbox.user.uid), 'audit.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e.event === 'release')
    assert.equal(releases.at(-1)?.credentials, 'durable')
  })

  it('mfa_serial: root asks its approver program for the code, signs with it, and caches the MFA session', async () => {
    endpoint.clear()
    writeFileSync(approveFlag, '')
    try {
      const r = await callerIdentity('mfa')
      assert.equal(r.code, 0, r.stderr)
      assertClean(r)
    } finally {
      rmSync(approveFlag, {force: true})
    }

    const sts = new URLSearchParams(endpoint.requests[0]!.body)
    assert.deepEqual(
      [endpoint.requests[0]!.operation, sts.get('SerialNumber'), sts.get('TokenCode')],
      ['GetSessionToken', 'arn:aws:iam::123456789012:mfa/canary', '123456'],
    )
    endpoint.clear()
    assert.equal((await callerIdentity('mfa')).code, 0)
    assert.deepEqual(
      operations().map((o) => o[0]),
      ['GetCallerIdentity'],
    )
  })

  it('mfa_serial on a terminal: root asks on the user’s own terminal (sudo use_pty in between), not its own', async () => {
    assert.equal((await av(['session', 'clear', '--profile', 'mfa'])).code, 0)
    endpoint.clear()
    const typed = await withApprovers(['tty'], async () =>
      sandbox.sh(typing('654321', callerIdentityArgv('mfa').join(' ')), {
        env: install.env,
      }),
    )
    assert.equal(typed.code, 0, typed.stdout)
    assert.match(typed.stdout, /MFA code for AWS profile mfa \(device arn:aws:iam::123456789012:mfa\/canary\)/)
    assertClean(typed)
    const sts = new URLSearchParams(endpoint.requests[0]!.body)
    assert.deepEqual([endpoint.requests[0]!.operation, sts.get('TokenCode')], ['GetSessionToken', '654321'])
  })

  it('av restore takes the keys out of custody only with the user’s password, and puts back every byte', async () => {
    const migrated = {config: awsFile('config'), credentials: awsFile('credentials')}
    // A --yes proves nothing; without a terminal sudo cannot ask the password; a wrong one is refused.
    const noTerminal = await av(['restore', '--yes'])
    assert.notEqual(noTerminal.code, 0)
    assert.match(noTerminal.stderr, /needs your password, and there is no terminal to ask it on/)
    const wrong = await sandbox.sh(typing('not-the-password', `/usr/bin/node ${install.av} restore`), {
      env: install.env,
      timeoutMs: 30_000,
    })
    assert.notEqual(wrong.code, 0)
    assert.match(wrong.stdout, /the password was not given/)
    // Nor can the plain entry point be asked directly, or the guarded one without a password.
    const direct = await custody(['checkout', 'default'], '')
    assert.match(direct.stderr, /refused \(custody-not-authenticated\)/)
    const guarded = await sandbox.run([SUDO, '-n', `${entry}-auth`, 'checkout', 'default'])
    assert.match(guarded.stderr, /a password is required/)
    for (const r of [noTerminal, wrong, direct, guarded]) assertClean(r)
    assert.deepEqual({config: awsFile('config'), credentials: awsFile('credentials')}, migrated)
    assert.ok(custodyAccounts().includes('aws:default'))

    // The person types the password where sudo asks (a pty here).
    const restored = await sandbox.sh(typing(PASSWORD, `/usr/bin/node ${install.av} restore`), {env: install.env})
    assert.equal(restored.code, 0, restored.stdout)
    assert.ok(
      restored.stdout.includes(
        `[av] av restore takes the AWS keys of default, mfa out of root custody: password for ${sandbox.user.name}:`,
      ),
      restored.stdout,
    )
    assert.match(restored.stdout, /removed them from root custody/)
    assertClean(restored)

    assert.deepEqual({config: awsFile('config'), credentials: awsFile('credentials')}, ORIGINAL)
    assert.deepEqual(
      custodyAccounts().filter((a) => a.startsWith('aws:') || a.startsWith('session:')),
      [],
    )
    const log = readFileSync(path.join(custodyDir, String(sandbox.user.uid), 'audit.jsonl'), 'utf8')
    const events = log
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e.event === 'checkout' || e.event === 'custody-remove')
      .map((e) => [e.event, e.profile ?? (e.profiles as string[]).join(',')])
    assert.deepEqual(events, [
      ['checkout', 'default,mfa'],
      ['custody-remove', 'default'],
      ['custody-remove', 'mfa'],
    ])
    assert.ok(!log.includes('avCanary'))
  })

  it('sudo av uninstall hands the key back to the keychain; keychain-mode av restore then puts back every byte', async () => {
    const migrated = await av(['migrate', '--yes'])
    assert.equal(migrated.code, 0, migrated.stderr)
    assert.deepEqual(
      custodyAccounts().filter((a) => a.startsWith('aws:')),
      ['aws:default', 'aws:mfa'],
    )
    // What `sudo -E av uninstall` from the user's session looks like to av.
    const uninstall = spawnSync(process.execPath, [install.av, 'uninstall', '--prefix', install.prefix], {
      encoding: 'utf8',
      env: {
        ...process.env,
        ...install.env,
        DBUS_SESSION_BUS_ADDRESS: sandbox.busAddress,
        SUDO_UID: String(sandbox.user.uid),
      },
    })
    assert.equal(uninstall.status, 0, uninstall.stderr)
    assert.match(
      uninstall.stdout,
      new RegExp(`Keys returned to the OS keychain of: uid ${sandbox.user.uid} \\(2 keys\\)`),
    )
    assertNoSecret({stderr: uninstall.stderr, stdout: uninstall.stdout}, [DURABLE.secretAccessKey])
    for (const gone of [sudoersFile, entry, custodyDir]) assert.equal(existsSync(gone), false, gone)
    const lookup = await sandbox.run(['/usr/bin/secret-tool', 'lookup', 'service', 'av', 'username', 'aws:default'])
    assert.equal(lookup.code, 0, lookup.stderr)
    assert.equal(JSON.parse(lookup.stdout).secretAccessKey, DURABLE.secretAccessKey)

    const plain = installAv({}, REPO_ROOT)
    try {
      const restored = await av(['restore', '--yes'], plain)
      assert.equal(restored.code, 0, restored.stderr)
      assertClean(restored)
      assert.deepEqual({config: awsFile('config'), credentials: awsFile('credentials')}, ORIGINAL)
      const search = await sandbox.run(['/usr/bin/secret-tool', 'search', '--all', 'service', 'av'])
      assert.doesNotMatch(search.stdout, /label = keyring:aws:/)
    } finally {
      removeInstall(plain)
    }
  })

  it('a keychain-mode user who reinstalls with the default moves the keys into custody with one av migrate', async () => {
    const keychain = installAv({sts: {endpoint: endpoint.url}}, REPO_ROOT)
    const base = e2eTempDir('custody-again-')
    const dropIn = newDropIn()
    let custody: Installed | undefined
    try {
      assert.equal((await av(['migrate', '--yes'], keychain)).code, 0)
      const before = await sandbox.run(['/usr/bin/secret-tool', 'search', '--all', 'service', 'av'])
      assert.match(before.stdout, /label = keyring:aws:default@av/)
      custody = installAv({sts: {endpoint: endpoint.url}}, REPO_ROOT, custodyArgs(base, dropIn))
      const migrated = await av(['migrate', '--yes'], custody)
      assert.equal(migrated.code, 0, migrated.stderr)
      assertClean(migrated)
      const after = await sandbox.run(['/usr/bin/secret-tool', 'search', '--all', 'service', 'av'])
      assert.doesNotMatch(after.stdout, /label = keyring:aws:/)
      endpoint.clear()
      const r = await sandbox.run([custody.aws, 'sts', 'get-caller-identity', '--endpoint-url', endpoint.url])
      assert.equal(r.code, 0, r.stderr)
      assertClean(r)
      assert.deepEqual(
        operations().map((o) => [o[0], o[1]?.startsWith('ASIA') ?? false, o[2]]),
        [
          ['GetSessionToken', false, true],
          ['GetCallerIdentity', true, true],
        ],
      )
    } finally {
      if (custody) {
        spawnSync(process.execPath, [custody.av, 'uninstall', '--prefix', custody.prefix], {
          encoding: 'utf8',
          env: {
            ...process.env,
            ...custody.env,
            DBUS_SESSION_BUS_ADDRESS: sandbox.busAddress,
            SUDO_UID: String(sandbox.user.uid),
          },
        })
        rmSync(custody.dir, {force: true, recursive: true})
      }

      rmSync(dropIn, {force: true})
      rmSync(base, {force: true, recursive: true})
      removeInstall(keychain)
    }
  })
})
