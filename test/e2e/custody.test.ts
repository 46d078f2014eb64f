/**
 * Custody mode end to end: `av install --custody` as root (real sudoers drop-in with a unique name, removed after),
 * the canary key handed to custody through `sudo -n <entry> store` as the unprivileged test user (what `av migrate`
 * does in custody mode), then `av run -- aws …` through the real AWS CLI v2 against the local SigV4 endpoint that
 * serves av's STS calls. The user's uid never holds the durable key: not in its keychain, files, output or any
 * process environment; only root's custody entry point signs GetSessionToken with it.
 */
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {chownSync, existsSync, readdirSync, readFileSync, rmSync, statSync} from 'node:fs'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'

import {assertNoSecret, canaryKey, filesWithSecret} from './support/canary.js'
import {e2eTempDir, installAv, type Installed, removeInstall, REPO_ROOT} from './support/install.js'
import {descendants} from './support/procfs.js'
import {type SigV4Endpoint, startEndpoint} from './support/sigv4-endpoint.js'
import {ensureTestUser, type KeyringSandbox, type RunResult, startKeyringSandbox} from './support/user-sandbox.js'

const DURABLE = canaryKey('C057')
const SUDO = '/usr/bin/sudo'

function uidOf(pid: number): number {
  return Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1])
}

function assertClean(r: RunResult): void {
  assertNoSecret({stderr: r.stderr, stdout: r.stdout}, [DURABLE.secretAccessKey])
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
  const sudoersFile = `/etc/sudoers.d/av-custody-e2e-${randomBytes(4).toString('hex')}`
  const installArgs = () => ['--custody', '--custody-dir', custodyDir, '--sudoers-file', sudoersFile]

  async function callerIdentity(): Promise<RunResult> {
    return sandbox.run(
      ['/usr/bin/node', install.av, 'run', '--', 'aws', 'sts', 'get-caller-identity', '--endpoint-url', endpoint.url],
      {env: install.env},
    )
  }

  /** `sudo -n <entry> <args>` from a shell of the test user (the shell is sudo's parent). */
  async function custody(args: string[], input: string): Promise<RunResult> {
    return sandbox.run(['/bin/sh', '-c', `${SUDO} -n "$@"; exit $?`, 'sh', entry, ...args], {input})
  }

  function operations(): Array<[null | string, null | string, boolean]> {
    return endpoint.requests.map((r) => [r.operation, r.accessKeyId, r.verified])
  }

  before(async () => {
    const user = ensureTestUser()
    endpoint = await startEndpoint({credentials: [DURABLE], sessionSecretPrefix: 'avCanarySessionSecret'})
    sweepStaleDropIns()
    custodyBase = e2eTempDir('custody-')
    custodyDir = path.join(custodyBase, 'custody')
    install = installAv({sts: {endpoint: endpoint.url}}, REPO_ROOT, installArgs())
    entry = path.join(install.prefix, 'libexec', 'av-custody')
    sandbox = await startKeyringSandbox(user)
    await sandbox.sh(String.raw`mkdir -p ~/.aws && printf "[default]\nregion = eu-west-1\n" > ~/.aws/config`)
    const stored = await custody(['store'], JSON.stringify({profile: 'default', ...DURABLE}))
    assert.equal(stored.code, 0, stored.stderr)
    assert.equal(stored.stdout, '{"profile":"default","stored":true}\n')
    assertClean(stored)
  })

  after(async () => {
    await sandbox?.stop()
    removeInstall(install)
    rmSync(sudoersFile, {force: true})
    if (custodyBase) rmSync(custodyBase, {force: true, recursive: true})
    await endpoint?.stop()
  })

  it('installs a root-only 0440 drop-in for exactly the entry point, which visudo accepts', () => {
    assert.equal(readFileSync(sudoersFile, 'utf8').split('\n').at(-2), `ALL ALL=(root) NOPASSWD: ${entry}`)
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
    const search = await sandbox.run(['/usr/bin/secret-tool', 'search', '--all', 'service', 'av'])
    assert.equal(search.stdout, '')
    assert.equal(search.stderr, '')
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
    const command = [
      '/usr/bin/node',
      install.av,
      'run',
      '--',
      'aws',
      'sts',
      'get-caller-identity',
      '--endpoint-url',
      endpoint.url,
    ].join(' ')
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

  it('refuses to install over a tampered (user-owned) entry point, and uninstall refuses while keys are in custody', () => {
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

    const uninstall = spawnSync(
      process.execPath,
      [path.join(REPO_ROOT, 'bin', 'run.js'), 'uninstall', '--prefix', install.prefix],
      {encoding: 'utf8', env: {...process.env, ...install.env}},
    )
    assert.equal(uninstall.status, 126, uninstall.stderr)
    assert.match(uninstall.stderr, /custody still holds durable keys for uid \d+ \(1 key\)/)
    assert.equal(statSync(sudoersFile).isFile(), true)
    assert.equal(statSync(entry).isFile(), true)
  })
})
