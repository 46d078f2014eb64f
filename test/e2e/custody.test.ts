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

import {assertNoSecret, canaryKey, filesWithSecret} from './support/canary.js'
import {e2eTempDir, installAv, type Installed, removeInstall, REPO_ROOT} from './support/install.js'
import {descendants} from './support/procfs.js'
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

/** `command` on a pty (util-linux script), with a person typing `answer` every 0.3 s until a prompt reads it. */
function typing(answer: string, command: string): string {
  return `(for i in $(seq 100); do sleep 0.3; echo ${answer}; done) | /usr/bin/script -qec '${command}' /dev/null`
}

/** Drop-ins an earlier, killed run of this suite left behind (their install is gone). */
function sweepStaleDropIns(): void {
  for (const name of readdirSync('/etc/sudoers.d')) {
    if (!name.startsWith('av-custody-e2e-')) continue
    const file = path.join('/etc/sudoers.d', name)
    const target = /NOPASSWD: (\S+)/.exec(readFileSync(file, 'utf8'))?.[1]
    if (!target || !existsSync(target)) rmSync(file, {force: true})
  }
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
  const sudoersFile = `/etc/sudoers.d/av-custody-e2e-${randomBytes(4).toString('hex')}`
  const installArgs = () => ['--custody', '--custody-dir', custodyDir, '--sudoers-file', sudoersFile]

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
    install = installAv({approvers: [{program: approver}], sts: {endpoint: endpoint.url}}, REPO_ROOT, installArgs())
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

  it('installs a root-only 0440 drop-in for exactly the entry point and its password-guarded twin, which visudo accepts', () => {
    const rules = readFileSync(sudoersFile, 'utf8')
      .split('\n')
      .filter((line) => line && !line.startsWith('#'))
    assert.deepEqual(rules, [
      `ALL ALL=(root) NOPASSWD: ${entry}`,
      `ALL ALL=(root) PASSWD: ${entry}-auth`,
      `Defaults!${entry}-auth timestamp_timeout=0`,
    ])
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
        ['mode', 'custody-entry', 'custody-view', 'keychain-leftover:old'].map((id) => checks.get(id)),
        ['ok', 'ok', 'ok', 'fail'],
      )
      const warned = await av(['status'])
      assert.match(warned.stdout, /durable key of old is still in your OS keychain/)
    } finally {
      await sandbox.run(['/usr/bin/secret-tool', 'clear', 'service', 'av', 'username', 'aws:old'])
    }
  })

  /** The user's processes of this suite holding the durable canary in environment or argv; and root custody's. */
  function scanProcesses(): {custodyRoot: number; leaks: number[]; user: number} {
    const found = {custodyRoot: 0, leaks: [] as number[], user: 0}
    for (const pid of descendants(process.pid)) {
      try {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1')
        if (uidOf(pid) !== sandbox.user.uid) {
          if (cmdline.includes('custody-main.js\0release')) found.custodyRoot++
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
    assert.ok(duringSts.user >= 4, 'launcher, CLI, helper and sudo were inspected')
    assert.ok(duringCli.user >= 2, 'the launcher and the CLI were inspected')
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

  it('inside a terminal (sudo use_pty puts a monitor sudo between) the run works the same', async () => {
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

  it('calling the entry point directly, with a stolen token, or from a fake launcher is refused', async () => {
    // A genuine run's token, read from the CLI's environment while the endpoint holds its request.
    endpoint.clear()
    endpoint.hold((r) => r.operation === 'GetCallerIdentity')
    const running = callerIdentity()
    await endpoint.waitForRequest((r) => r.operation === 'GetCallerIdentity')
    let token = ''
    for (const pid of descendants(process.pid)) {
      try {
        const env = readFileSync(`/proc/${pid}/environ`, 'latin1')
        const m = /(?:^|\0)AV_RUN_TOKEN=([^\0]+)/.exec(env)
        if (m && uidOf(pid) === sandbox.user.uid) token = m[1]!
      } catch {}
    }

    assert.ok(token.length > 20, 'a token was stolen')
    const stolen = await custody(['release', '--profile', 'default'], token)
    const noToken = await custody(['release', '--profile', 'default'], '')
    // The genuine helper, started by a shell instead of the AWS CLI, with the stolen token.
    const fakeParent = await sandbox.run(
      ['/bin/sh', '-c', `/usr/bin/node ${install.av} credential-helper aws --profile default; exit $?`],
      {
        env: {...install.env, AV_RUN_TOKEN: token},
      },
    )
    const claims = JSON.stringify({
      argvHash: 'a'.repeat(64),
      configHash: 'b'.repeat(64),
      elevated: true,
      profile: 'default',
    })
    const mintDirect = await custody(['mint'], claims)
    // A launcher look-alike: root-owned node running the user's own script.
    await sandbox.sh(
      `cat > ~/fake.mjs <<'EOF'\nimport {spawnSync} from 'node:child_process'\n` +
        `const r = spawnSync('${SUDO}', ['-n', '${entry}', 'mint'], {input: process.argv[3], encoding: 'utf8'})\n` +
        `process.stdout.write(r.stdout); process.stderr.write(r.stderr); process.exitCode = r.status\nEOF`,
    )
    const fakeLauncher = await sandbox.run(['/usr/bin/node', `${sandbox.home}/fake.mjs`, 'run', claims])
    endpoint.release()
    assert.equal((await running).code, 0)

    for (const [r, reason] of [
      [stolen, 'custody-caller-untrusted'],
      [noToken, 'custody-caller-untrusted'],
      [fakeParent, 'parent-not-runtime'],
      [mintDirect, 'launcher-untrusted'],
      [fakeLauncher, 'launcher-untrusted'],
    ] as const) {
      assert.notEqual(r.code, 0, r.stderr)
      assert.equal(r.stdout, '')
      assert.match(r.stderr, new RegExp(`refused \\(${reason}\\)`))
      assertClean(r)
    }

    // Root recorded the refusals it made itself in the user's custody audit log (the helper's own went there too).
    const refusals = readFileSync(path.join(custodyDir, String(sandbox.user.uid), 'audit.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e.event === 'refusal')
      .map((e) => e.reason)
    assert.deepEqual(refusals.slice(-5), [
      'custody-caller-untrusted',
      'custody-caller-untrusted',
      'parent-not-runtime',
      'launcher-untrusted',
      'launcher-untrusted',
    ])
    // None of these reached STS: only the held genuine run signed anything.
    assert.deepEqual(
      operations().map((o) => o[0]),
      ['GetCallerIdentity'],
    )
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

  it('an elevated command (IAM) gets the durable key only when approved and the user’s password is typed', async () => {
    const iam = ['/usr/bin/node', install.av, 'run', '--', 'aws', 'iam', 'list-users', '--endpoint-url', endpoint.url]
    endpoint.clear()
    const denied = await sandbox.run(iam, {env: install.env})
    assert.equal(denied.code, 126, denied.stderr)
    assertClean(denied)
    // Approved (the approver program says yes), but no terminal for the password: root mints no elevated token.
    writeFileSync(approveFlag, '')
    let approved: RunResult
    try {
      const noPassword = await sandbox.run(iam, {env: install.env})
      assert.notEqual(noPassword.code, 0)
      assert.match(noPassword.stderr, /needs your password, and there is no terminal to ask it on/)
      assertClean(noPassword)
      assert.deepEqual(operations(), [])
      approved = await sandbox.sh(typing(PASSWORD, iam.join(' ')), {env: install.env})
    } finally {
      rmSync(approveFlag, {force: true})
    }

    assert.ok(
      approved.stdout.includes(
        `[av] this run gets your durable AWS key for profile default: password for ${sandbox.user.name}:`,
      ),
      approved.stdout,
    )
    // The local endpoint does not implement IAM (the CLI exits 254), but it verified who signed the call.
    assertClean(approved)
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
})
