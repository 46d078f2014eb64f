import assert from 'node:assert/strict'
import * as fs from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'

import {FileAuditLog} from '../../../src/lib/audit/audit.js'
import {AvError} from '../../../src/lib/core/errors.js'
import {type CustodyCall} from '../../../src/lib/custody/custody-client.js'
import {type CheckStatus, type DoctorDeps, type MachineFacts} from '../../../src/lib/inspect/doctor-check.js'
import {runtimeToCheck} from '../../../src/lib/inspect/doctor-install.js'
import {formatDoctorReport, runDoctor} from '../../../src/lib/inspect/doctor.js'
import {shimText} from '../../../src/lib/install/shims.js'
import {type KeyAge} from '../../../src/lib/keys/key-age.js'
import {MemoryStore} from '../../fakes/memory-store.js'

const CANARY_ID = 'AKIAAVCANARY0000XXXX'
const CANARY_SECRET = 'avCanarySecret/0000000000000000000000000'
const NOBODY = 65_534
const roots: string[] = []

interface Sandbox {
  deps: DoctorDeps
  home: string
  root: string
  store: MemoryStore
  write(rel: string, text: string): string
}

/** A clean machine: keys in the keychain, profiles on this av, root-owned av and runtime, av's shim on PATH. */
async function sandbox(): Promise<Sandbox> {
  const root = fs.mkdtempSync(path.join(tmpdir(), 'av-doctor-'))
  roots.push(root)
  const home = path.join(root, 'home')
  const write = (rel: string, text: string) => {
    const file = path.isAbsolute(rel) ? rel : path.join(home, rel)
    fs.mkdirSync(path.dirname(file), {recursive: true})
    fs.writeFileSync(file, text, {mode: 0o755})
    return file
  }

  const avBin = write(path.join(root, 'opt/av/bin/run.js'), '// av\n')
  const python = write(path.join(root, 'usr/bin/python3'), '')
  const awsEntry = write(path.join(root, 'usr/bin/aws'), '')
  // The launcher shim exactly as `sudo av install` writes it.
  const runEntry = path.join(root, 'opt/av/dist/lib/main/run-entry.cjs')
  const shim = write(
    path.join(root, 'opt/av/shim/aws'),
    shimText('/usr/bin/node', runEntry, ['run', '--', 'aws'], ['NODE_EXTRA_CA_CERTS']),
  )
  write(
    '.aws/config',
    [
      '[default]',
      'region = eu-west-1',
      `credential_process = ${avBin} credential-helper aws --profile default`,
      '[profile dev]',
      `credential_process = "${avBin}" credential-helper aws --profile dev`,
      '[profile admin]',
      'role_arn = arn:aws:iam::123456789012:role/Admin',
      'source_profile = dev',
      '[sso-session corp]',
      'sso_region = eu-west-1',
      '',
    ].join('\n'),
  )
  write('.aws/credentials', '')
  const store = new MemoryStore()
  await store.set('token-key', Buffer.alloc(32, 1).toString('base64'))
  const auditDir = path.join(home, '.local/state/av')
  const log = new FileAuditLog(auditDir, () => Date.parse('2026-11-28T10:00:00Z'), {store})
  await log.record({event: 'release', profile: 'dev'})
  await log.record({decision: 'allow', event: 'gate', profile: 'dev'})
  const machine: MachineFacts = {
    awsOnPath: () => shim,
    corePattern: () => '|/usr/lib/systemd/systemd-coredump %P\n',
    limits: () =>
      'Limit                     Soft Limit           Hard Limit           Units\nMax core file size        0                    unlimited            bytes\n',
    ptraceScope: () => '1\n',
  }
  const deps: DoctorDeps = {
    auditDir,
    avBin,
    env: {HOME: home, PATH: '/usr/bin:/bin'},
    home,
    machine,
    platform: 'linux',
    runtime: [python, '-I', awsEntry],
    store,
  }
  return {deps, home, root, store, write}
}

function statusOf(report: Awaited<ReturnType<typeof runDoctor>>, id: string) {
  const check = report.checks.find((c) => c.id === id)
  assert.ok(check, `no check ${id} in ${report.checks.map((c) => c.id).join(', ')}`)
  return check
}

/** The sandbox with a root-owned custody entry point whose `view` answers `accounts` (a fake `sudo -n`). */
async function custodySandbox(accounts: string[], answer?: CustodyCall) {
  const s = await sandbox()
  const entry = s.write(path.join(s.root, 'opt/av/libexec/av-custody'), '#!/bin/sh\n')
  const launch = s.write(path.join(s.root, 'opt/av/libexec/av-launch'), '#!/bin/sh\n')
  const calls: string[][] = []
  s.deps.custody = {
    awsCli: ['/opt/av/libexec/aws-python3', '-I', '/usr/bin/aws'],
    dir: '/var/lib/av/custody',
    entry,
    launch,
  }
  s.deps.callCustody = async (called, args) => {
    assert.equal(called, entry)
    calls.push(args)
    return answer ?? {code: 0, stderr: '', stdout: JSON.stringify({accounts, sealed: {}}) + '\n'}
  }

  // The keychain may be listed, never read for a durable key.
  const read: string[] = []
  const get = s.store.get.bind(s.store)
  s.store.get = async (account) => {
    read.push(account)
    return get(account)
  }

  return {...s, calls, entry, read}
}

const problems = (report: Awaited<ReturnType<typeof runDoctor>>) =>
  report.checks.filter((c) => c.status !== 'ok').map((c) => [c.id, c.status])

describe('av doctor', () => {
  after(() => {
    for (const root of roots) fs.rmSync(root, {force: true, recursive: true})
  })

  it('a clean sandbox: every check ok, nothing exposed', async () => {
    const {deps} = await sandbox()
    const report = await runDoctor(deps)
    const notOk = report.checks.filter((c) => c.status !== 'ok')
    assert.deepEqual(notOk, [])
    assert.equal(report.exposed, false)
    assert.deepEqual(
      report.checks.map((c) => c.id),
      [
        'plaintext-keys',
        'environment',
        'cli-cache',
        'sso-cache',
        'login-cache',
        'profile:default',
        'profile:dev',
        'profile:admin',
        'av-install',
        'aws-runtime',
        'aws-on-path',
        'plugins',
        'cli-history',
        'aliases',
        'models',
        'mode',
        'secret-store',
        'token-key',
        'ptrace-scope',
        'core-dumps',
        'audit-chain',
      ],
    )
    assert.match(formatDoctorReport(report), /21 ok, 0 warning\(s\), 0 failure\(s\)$/)
  })

  type Seed = (s: Sandbox) => Promise<void> | void
  const exposures: Array<[string, Seed, string, CheckStatus, RegExp, RegExp, string[]?]> = [
    [
      'plaintext keys in the credentials file (a non-default profile)',
      (s) => {
        s.write(
          '.aws/credentials',
          `[work]\naws_access_key_id = ${CANARY_ID}\naws_secret_access_key = ${CANARY_SECRET}\n`,
        )
      },
      'plaintext-keys',
      'fail',
      /~\/\.aws\/credentials \(credentials\): work$/,
      /av migrate/,
    ],
    [
      'plaintext keys in the config file',
      (s) => {
        fs.appendFileSync(path.join(s.home, '.aws/config'), `[profile old]\naws_secret_access_key = ${CANARY_SECRET}\n`)
      },
      'plaintext-keys',
      'fail',
      /~\/\.aws\/config \(config\): old$/,
      /av migrate/,
      ['profile:old'],
    ],
    [
      'keys in the environment',
      (s) => {
        s.deps.env.AWS_ACCESS_KEY_ID = CANARY_ID
        s.deps.env.AWS_SECRET_ACCESS_KEY = CANARY_SECRET
      },
      'environment',
      'fail',
      /\(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY\)/,
      /^Unset them \(unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY\)/,
    ],
    [
      'role credentials in ~/.aws/cli/cache',
      (s) => {
        s.write('.aws/cli/cache/0123abcd.json', JSON.stringify({Credentials: {SecretAccessKey: CANARY_SECRET}}))
        s.write('.aws/cli/cache/empty.json', '{}')
      },
      'cli-cache',
      'fail',
      /^1 file\(s\) in ~\/\.aws\/cli\/cache hold credentials or tokens in plaintext: 0123abcd\.json$/,
      /rm ~\/\.aws\/cli\/cache/,
    ],
    [
      'an SSO token in ~/.aws/sso/cache',
      (s) => {
        s.write('.aws/sso/cache/abc.json', JSON.stringify({accessToken: CANARY_SECRET, expiresAt: 'x'}))
      },
      'sso-cache',
      'fail',
      /~\/\.aws\/sso\/cache/,
      /aws sso logout/,
    ],
    [
      'an `aws login` token in ~/.aws/login/cache',
      (s) => {
        s.write('.aws/login/cache/t.json', JSON.stringify({accessToken: {secretAccessKey: 'x'}, refreshToken: 'y'}))
      },
      'login-cache',
      'fail',
      /~\/\.aws\/login\/cache/,
      /aws logout/,
    ],
    [
      'a profile without the av reference',
      (s) => {
        fs.appendFileSync(path.join(s.home, '.aws/config'), '[profile plain]\nregion = us-east-1\n')
      },
      'profile:plain',
      'warn',
      /does not get its credentials from av/,
      /av migrate --profile plain/,
    ],
    [
      'a profile on another, root-owned av',
      (s) => {
        const other = s.write(path.join(s.root, 'usr/local/av2/bin/run.js'), '')
        fs.appendFileSync(
          path.join(s.home, '.aws/config'),
          `[profile other]\ncredential_process = ${other} credential-helper aws --profile other\n`,
        )
      },
      'profile:other',
      'warn',
      /uses another av install/,
      /av migrate --profile other/,
    ],
    [
      'a profile on a user-writable av',
      (s) => {
        const evil = s.write('tools/av/bin/run.js', '')
        fs.chownSync(evil, NOBODY, NOBODY)
        fs.appendFileSync(
          path.join(s.home, '.aws/config'),
          `[profile evil]\ncredential_process = ${evil} credential-helper aws --profile evil\n`,
        )
      },
      'profile:evil',
      'fail',
      /runs a user-writable av .*is owned by uid 65534, not root/,
      /sudo av install/,
    ],
    [
      'this av is a user-writable checkout (profiles on it)',
      (s) => {
        fs.chownSync(s.deps.avBin, NOBODY, NOBODY)
      },
      'profile:dev',
      'warn',
      /uses this av, but it is user-writable/,
      /^Run `sudo av install`/,
      ['profile:default', 'av-install'],
    ],
    [
      'this av is a user-writable checkout (the install)',
      (s) => {
        fs.chmodSync(path.dirname(s.deps.avBin), 0o777)
      },
      'av-install',
      'warn',
      /is not root-owned: .*\/opt\/av\/bin is writable by group or others/,
      /sudo av install/,
      ['profile:default', 'profile:dev'],
    ],
    [
      'a user-writable AWS CLI runtime',
      (s) => {
        fs.chownSync(s.deps.runtime[2]!, NOBODY, NOBODY)
      },
      'aws-runtime',
      'fail',
      /is not root-owned: .*\/usr\/bin\/aws is owned by uid 65534/,
      /awsCli/,
    ],
    [
      'a missing AWS CLI runtime',
      (s) => {
        fs.rmSync(s.deps.runtime[0]!)
      },
      'aws-runtime',
      'fail',
      /is missing: .*python3 does not exist/,
      /apt-get install awscli/,
    ],
    [
      'another `aws` first on PATH',
      (s) => {
        const pyenv = s.write('.pyenv/shims/aws', '#!/bin/sh\nexec pyenv exec aws "$@"\n')
        s.deps.machine = {...s.deps.machine, awsOnPath: () => pyenv}
      },
      'aws-on-path',
      'warn',
      /\(~?.*\.pyenv\/shims\/aws\) is not av's launcher/,
      /sudo av install/,
    ],
    [
      "another av's launcher first on PATH",
      (s) => {
        const other = s.write(
          path.join(s.root, 'usr/local/bin/aws'),
          '#!/bin/sh\nexec /usr/bin/node /opt/av/bin/run.js run -- aws "$@"\n',
        )
        s.deps.machine = {...s.deps.machine, awsOnPath: () => other}
      },
      'aws-on-path',
      'warn',
      /is the launcher of another av, not of .*\/opt\/av\/bin\/run\.js/,
      /sudo av install/,
    ],
    [
      'a [plugins] section',
      (s) => {
        fs.appendFileSync(path.join(s.home, '.aws/config'), '[plugins]\ncli_legacy_plugin_path = /tmp/x\nmine = mine\n')
      },
      'plugins',
      'warn',
      /has a \[plugins] section/,
      /Remove the \[plugins] section/,
    ],
    [
      'cli_history enabled',
      (s) => {
        fs.appendFileSync(path.join(s.home, '.aws/config'), '[profile hist]\ncli_history = enabled\n')
      },
      'cli-history',
      'warn',
      /cli_history = enabled for hist/,
      /delete ~\/\.aws\/cli\/history/,
      ['profile:hist'],
    ],
    [
      'a kept CLI history database',
      (s) => {
        s.write('.aws/cli/history/history.db', 'x')
      },
      'cli-history',
      'warn',
      /~\/\.aws\/cli\/history exists/,
      /delete ~\/\.aws\/cli\/history/,
    ],
    [
      'aliases',
      (s) => {
        s.write('.aws/cli/alias', '[toplevel]\n# comment\nwhoami = sts get-caller-identity\nsh = !f() { env; }; f\n')
      },
      'aliases',
      'warn',
      /defines 2 alias line\(s\)/,
      /Review ~\/\.aws\/cli\/alias/,
    ],
    [
      'custom service models',
      (s) => {
        s.write('.aws/models/harmless/2020-01-01/service-2.json', '{}')
      },
      'models',
      'warn',
      /~\/\.aws\/models/,
      /Delete ~\/\.aws\/models/,
    ],
    [
      'an unavailable secret store',
      (s) => {
        s.store.unavailable = true
      },
      'secret-store',
      'fail',
      /the OS keychain is unavailable/,
      /gnome-keyring-daemon/,
      ['token-key', 'audit-chain'],
    ],
    [
      'no token key yet',
      async (s) => {
        await s.store.delete('token-key')
      },
      'token-key',
      'warn',
      /created on the first `av run`/,
      /av run/,
    ],
    [
      'ptrace_scope 0',
      (s) => {
        s.deps.machine = {...s.deps.machine, ptraceScope: () => '0\n'}
      },
      'ptrace-scope',
      'warn',
      /^kernel\.yama\.ptrace_scope = 0 .*2 = only with CAP_SYS_PTRACE.*3 = no attaching at all/,
      /ptrace_scope=2/,
    ],
    [
      'no Yama at all',
      (s) => {
        s.deps.machine = {...s.deps.machine, ptraceScope: () => null}
      },
      'ptrace-scope',
      'warn',
      /Yama LSM is absent/,
      /sysctl/,
    ],
    [
      'core dumps enabled',
      (s) => {
        s.deps.machine = {
          ...s.deps.machine,
          limits: () => 'Max core file size        unlimited            unlimited            bytes\n',
        }
      },
      'core-dumps',
      'warn',
      /core dumps are enabled \(limit unlimited, piped to \/usr\/lib\/systemd\/systemd-coredump\)/,
      /ulimit -c 0/,
    ],
    [
      'a tampered audit trail',
      (s) => {
        const file = path.join(s.deps.auditDir, 'audit.jsonl')
        fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('"profile":"dev"', '"profile":"prod"'))
      },
      'audit-chain',
      'fail',
      /broken at audit\.jsonl line 1: mac mismatch/,
      /av log --verify/,
    ],
  ]

  it("checks the policy's runtime, else the launcher's first built-in candidate", () => {
    assert.deepEqual(runtimeToCheck(['/opt/aws/bin/aws'], 'linux'), ['/opt/aws/bin/aws'])
    const builtin = runtimeToCheck(undefined, 'linux')
    assert.ok(
      [['/usr/bin/python3', '-I', '/usr/bin/aws'], ['/usr/local/aws-cli/v2/current/bin/aws']].some(
        (c) => JSON.stringify(c) === JSON.stringify(builtin),
      ),
      JSON.stringify(builtin),
    )
  })

  it('dates each durable key and suggests av rotate past 90 days; no key, or ages unreadable, say so', async () => {
    const {deps} = await sandbox()
    const now = Date.parse('2026-12-01T00:00:00Z')
    const day = 24 * 60 * 60 * 1000
    const keyAge = async (read: () => Promise<KeyAge[]>) =>
      (await runDoctor({...deps, keyAges: {now, read}})).checks.find((c) => c.id === 'key-age')
    const old: KeyAge = {profile: 'dev', since: now - 200 * day, source: 'iam'}
    const fresh: KeyAge = {iamError: 'AccessDenied', profile: 'default', since: now - 2 * day, source: 'stored'}

    const due = await keyAge(async () => [old, fresh])
    assert.equal(due?.status, 'warn')
    assert.equal(
      due?.message,
      "a key is over 90 days old: default 2 days (stored by av; the key may be older; IAM not asked: AccessDenied); dev 200 days (IAM's CreateDate)",
    )
    assert.match(due!.fix!, /^Run `av rotate --profile dev`:/)

    assert.equal((await keyAge(async () => [fresh]))?.status, 'ok')
    assert.deepEqual(await keyAge(async () => []), {
      id: 'key-age',
      message: 'av holds no durable IAM user key',
      status: 'ok',
    })
    const unreadable = await keyAge(async () => {
      throw new AvError('store-unavailable', 'the OS keychain is locked')
    })
    assert.equal(unreadable?.status, 'warn')
    assert.match(unreadable!.message, /could not be read: the OS keychain is locked/)
    // Without the deps (a test, or a caller that does not date keys) there is no such check.
    assert.equal(
      (await runDoctor(deps)).checks.find((c) => c.id === 'key-age'),
      undefined,
    )
  })

  it('warns about audit lines written while the keychain was unavailable', async () => {
    const s = await sandbox()
    s.store.unavailable = true
    await new FileAuditLog(s.deps.auditDir, Date.now, {store: s.store}).record({
      event: 'refusal',
      reason: 'store-unavailable',
    })
    s.store.unavailable = false
    const check = (await runDoctor(s.deps)).checks.find((c) => c.id === 'audit-chain')
    assert.equal(check?.status, 'warn')
    assert.match(
      check?.message ?? '',
      /intact \(3 lines\), but the last 1, from audit\.jsonl line 3, were written without the audit key/,
    )
  })

  for (const [name, seed, id, status, message, fix, also = []] of exposures) {
    it(`finds ${name}`, async () => {
      const s = await sandbox()
      await seed(s)
      const report = await runDoctor(s.deps)
      const check = statusOf(report, id)
      assert.equal(check.status, status, check.message)
      assert.match(check.message, message)
      assert.match(check.fix ?? '', fix)
      assert.equal(report.exposed, status === 'fail')
      // Only the seeded problem shows, and the checks it necessarily touches.
      const others = report.checks.filter((c) => c.status !== 'ok' && c.id !== id).map((c) => c.id)
      assert.deepEqual(others, also)
      const text = JSON.stringify(report) + formatDoctorReport(report)
      assert.doesNotMatch(text, /avCanarySecret/)
      assert.ok(!text.includes(CANARY_ID), 'no key id in the report either')
    })
  }

  describe('custody mode', () => {
    it('a clean custody install: the mode, a trusted entry point that answers, the token key there, no keys left behind', async () => {
      const s = await custodySandbox(['aws:default', 'aws:dev', 'session:dev', 'token-key'])
      await s.store.delete('token-key')
      const report = await runDoctor(s.deps)
      assert.deepEqual(problems(report), [])
      assert.equal(report.exposed, false)
      assert.deepEqual(report.checks.map((c) => c.id).slice(15, 21), [
        'mode',
        'secret-store',
        'custody-entry',
        'custody-view',
        'root-launcher',
        'keychain-leftovers',
      ])
      assert.match(
        statusOf(report, 'mode').message,
        new RegExp(`^custody mode: .*\\(/var/lib/av/custody\\), reached through \`sudo -n ${s.entry}\`$`),
      )
      assert.match(statusOf(report, 'custody-view').message, /durable keys for default, dev$/)
      assert.match(
        statusOf(report, 'root-launcher').message,
        /^root runs the aws launcher \(.*av-launch\); the AWS CLI runs non-dumpable$/,
      )
      assert.deepEqual(s.calls, [['view']])
    })

    it('fails for each durable key still in the OS keychain, naming the profile, never the key', async () => {
      const s = await custodySandbox(['aws:dev', 'token-key'])
      await s.store.set('aws:dev', JSON.stringify({accessKeyId: CANARY_ID, secretAccessKey: CANARY_SECRET, v: 1}))
      await s.store.set('aws:old', JSON.stringify({accessKeyId: CANARY_ID, secretAccessKey: CANARY_SECRET, v: 1}))
      await s.store.set('session:dev', 'x')
      const report = await runDoctor(s.deps)
      assert.deepEqual(problems(report), [
        ['keychain-leftover:dev', 'fail'],
        ['keychain-leftover:old', 'fail'],
      ])
      assert.equal(report.exposed, true)
      const dev = statusOf(report, 'keychain-leftover:dev')
      assert.match(
        dev.message,
        /^the durable key of dev is still in your OS keychain, which every program you run can read/,
      )
      assert.equal(dev.fix, 'Run `av migrate`: it moves the key into root custody.')
      assert.deepEqual(
        s.read.filter((a) => a.startsWith('aws:')),
        [],
      )
      const text = JSON.stringify(report) + formatDoctorReport(report)
      assert.doesNotMatch(text, /avCanarySecret/)
      assert.ok(!text.includes(CANARY_ID))
    })

    it('fails when the entry point is not root-controlled, and does not run it', async () => {
      const s = await custodySandbox(['token-key'])
      fs.chmodSync(s.entry, 0o777)
      const report = await runDoctor(s.deps)
      assert.deepEqual(problems(report), [
        ['custody-entry', 'fail'],
        ['custody-view', 'warn'],
      ])
      const check = statusOf(report, 'custody-entry')
      assert.match(check.message, /custody entry point .* is not root-controlled \(.* is writable by group or others\)/)
      assert.equal(check.fix, 'Run `sudo av install` again.')
      assert.deepEqual(s.calls, [])
    })

    it('fails when root custody does not answer view', async () => {
      const s = await custodySandbox([], {code: 1, stderr: 'sudo: a password is required\n', stdout: ''})
      const report = await runDoctor(s.deps)
      assert.deepEqual(problems(report), [['custody-view', 'fail']])
      const check = statusOf(report, 'custody-view')
      assert.match(check.message, /custody view failed \(exit 1\): sudo: a password is required$/)
      assert.match(check.fix ?? '', /sudo av install/)
    })

    it('custody mode without a usable keychain: a warning (no key lives there), not a failure', async () => {
      const s = await custodySandbox(['aws:dev', 'token-key'])
      s.store.unavailable = true
      const report = await runDoctor(s.deps)
      assert.deepEqual(problems(report), [
        ['secret-store', 'warn'],
        ['keychain-leftovers', 'warn'],
        ['audit-chain', 'warn'],
      ])
      assert.match(statusOf(report, 'secret-store').message, /custody mode keeps no key there/)
      assert.equal(report.exposed, false)
    })

    it('keychain mode: the mode is reported, and keys in the keychain are where they belong', async () => {
      const s = await sandbox()
      await s.store.set('aws:dev', JSON.stringify({accessKeyId: CANARY_ID, secretAccessKey: CANARY_SECRET, v: 1}))
      const report = await runDoctor(s.deps)
      assert.deepEqual(problems(report), [])
      assert.match(
        statusOf(report, 'mode').message,
        /^keychain: an agent running as you can read the keys .*`sudo av install`/,
      )
      assert.ok(!report.checks.some((c) => c.id.startsWith('custody') || c.id.startsWith('keychain-')))
    })
  })
})
