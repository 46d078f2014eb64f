/**
 * Sessions end to end: `av run -- aws sts get-caller-identity` through the real AWS CLI v2, a real gnome-keyring
 * and the local SigV4 endpoint, which serves both av's STS calls (root-owned test policy `sts.endpoint`) and the
 * CLI's data-plane request. The durable canary signs only GetSessionToken; the CLI only ever holds the session.
 */
import assert from 'node:assert/strict'
import {chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import {fileURLToPath} from 'node:url'

import {assertNoSecret, canaryKey, filesWithSecret} from './support/canary.js'
import {descendants} from './support/procfs.js'
import {type SigV4Endpoint, startEndpoint} from './support/sigv4-endpoint.js'
import {type KeyringSandbox, type RunResult, startKeyringSandbox} from './support/user-sandbox.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const AV = path.join(ROOT, 'bin', 'run.js')
const DURABLE = canaryKey('5E55')

function assertClean(r: RunResult): void {
  assertNoSecret({stderr: r.stderr, stdout: r.stdout}, [DURABLE.secretAccessKey])
}

describe('sessions through av run, the real AWS CLI and gnome-keyring', () => {
  let sandbox: KeyringSandbox
  let endpoint: SigV4Endpoint
  let policyDir: string
  let policyFile: string

  /** Run node code as the test user inside the keyring session (store access through av's own module). */
  async function storeScript(body: string): Promise<string> {
    const script =
      `const {KeyringStore} = await import(${JSON.stringify(path.join(ROOT, 'dist/lib/store/secret-store.js'))});\n` +
      `const store = new KeyringStore();\n${body}`
    const r = await sandbox.run(['/usr/bin/node', '--input-type=module', '-e', script])
    assert.equal(r.code, 0, r.stderr)
    return r.stdout
  }

  async function av(args: string[]): Promise<RunResult> {
    return sandbox.run(['/usr/bin/node', AV, ...args], {env: {AV_POLICY: policyFile}})
  }

  async function callerIdentity(profile = 'dev'): Promise<RunResult> {
    return av(['run', '--', 'aws', 'sts', 'get-caller-identity', '--endpoint-url', endpoint.url, '--profile', profile])
  }

  function operations(): Array<[null | string, null | string, boolean, boolean]> {
    return endpoint.requests.map((r) => [r.operation, r.accessKeyId, r.verified, r.hasSecurityToken])
  }

  function auditReleases(): Array<[unknown, unknown]> {
    const file = path.join(sandbox.home, '.local', 'state', 'av', 'audit.jsonl')
    return readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((e) => e.event === 'release')
      .map((e) => [e.credentials, e.cached])
  }

  before(async () => {
    endpoint = await startEndpoint({credentials: [DURABLE], sessionSecretPrefix: 'avCanarySessionSecret'})
    sandbox = await startKeyringSandbox()
    policyDir = mkdtempSync('/tmp/av-sts-policy-')
    chmodSync(policyDir, 0o755)
    policyFile = path.join(policyDir, 'policy.json')
    // A root-owned approver program that answers MFA code requests (a person typing the code, in real life).
    const approver = path.join(policyDir, 'mfa-approver')
    writeFileSync(approver, '#!/bin/sh\ncat >/dev/null\necho 123456\n', {mode: 0o755})
    const policy = {approvers: [{program: approver}], endpoints: ['http://127.0.0.1:*'], sts: {endpoint: endpoint.url}}
    writeFileSync(policyFile, JSON.stringify(policy), {mode: 0o644})
    // The user's config names its own endpoint for the profile: neither av's STS calls nor the CLI may use it.
    await sandbox.sh(
      'mkdir -p ~/.aws && printf "' +
        String.raw`[profile dev]\nregion = us-east-1\nendpoint_url = http://127.0.0.1:9\n` +
        String.raw`[profile admin]\nrole_arn = arn:aws:iam::123456789012:role/admin\nsource_profile = dev\nexternal_id = ext-1\n` +
        String.raw`[profile ops]\nrole_arn = arn:aws:iam::123456789012:role/ops\nsource_profile = admin\nrole_session_name = e2e\nregion = us-east-1\n` +
        String.raw`[profile mfa]\nmfa_serial = arn:aws:iam::123456789012:mfa/canary\nregion = us-east-1\n` +
        '" > ~/.aws/config',
    )
    await storeScript(
      `await store.set('aws:dev', ${JSON.stringify(JSON.stringify({v: 1, ...DURABLE}))});\n` +
        `await store.set('aws:mfa', ${JSON.stringify(JSON.stringify({v: 1, ...DURABLE}))}); console.log('stored')`,
    )
  })

  after(async () => {
    await sandbox?.stop()
    await endpoint?.stop()
    if (policyDir) rmSync(policyDir, {force: true, recursive: true})
  })

  it('the CLI signs with the session canary and a security token; the durable key never reaches it', async () => {
    endpoint.hold((r) => r.operation === 'GetCallerIdentity')
    const running = callerIdentity()
    const call = await endpoint.waitForRequest((r) => r.operation === 'GetCallerIdentity')
    // While the CLI waits for its answer: no process of the user carries the durable secret in env or argv.
    const leaks: number[] = []
    const clis: number[] = []
    for (const pid of descendants(process.pid)) {
      try {
        const environ = readFileSync(`/proc/${pid}/environ`, 'latin1')
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1')
        if (cmdline.includes('/usr/bin/aws\0sts\0get-caller-identity') && environ.includes('AV_RUN_TOKEN='))
          clis.push(pid)
        const text = environ + cmdline
        if (text.includes(DURABLE.secretAccessKey) || text.includes('avCanarySecret')) leaks.push(pid)
      } catch {
        // exited meanwhile
      }
    }

    endpoint.release()
    const r = await running
    assert.equal(r.code, 0, r.stderr)
    assert.equal(clis.length, 1, 'the waiting AWS CLI process was inspected')
    assert.deepEqual(leaks, [])
    assertClean(r)
    assert.equal(JSON.parse(r.stdout).Account, '123456789012')
    assert.match(call.accessKeyId!, /^ASIA/)
    assert.deepEqual(operations(), [
      ['GetSessionToken', DURABLE.accessKeyId, true, false],
      ['GetCallerIdentity', call.accessKeyId, true, true],
    ])
    assert.deepEqual(filesWithSecret(sandbox.base), [])
    assert.deepEqual(auditReleases(), [['session', false]])
  })

  it('a second run makes no STS call; `av session clear` forces one', async () => {
    endpoint.clear()
    const warm = await callerIdentity()
    assert.equal(warm.code, 0, warm.stderr)
    assert.deepEqual(
      operations().map((o) => o[0]),
      ['GetCallerIdentity'],
    )
    const sessionKey = endpoint.requests[0]!.accessKeyId

    const clear = await av(['session', 'clear', '--profile', 'dev', '--json'])
    assert.equal(clear.code, 0, clear.stderr)
    assert.deepEqual(JSON.parse(clear.stdout), {cleared: ['session:dev']})
    endpoint.clear()
    const cold = await callerIdentity()
    assert.equal(cold.code, 0, cold.stderr)
    assert.deepEqual(
      operations().map((o) => o[0]),
      ['GetSessionToken', 'GetCallerIdentity'],
    )
    assert.notEqual(endpoint.requests[1]!.accessKeyId, sessionKey)
    assertClean(warm)
    assertClean(cold)
    assert.deepEqual(auditReleases().slice(-2), [
      ['session', true],
      ['session', false],
    ])
  })

  async function ageSession(minutesLeft: number): Promise<string> {
    return storeScript(
      `const item = JSON.parse(await store.get('session:dev'));\n` +
        `item.expiration = new Date(Date.now() + ${minutesLeft} * 60_000).toISOString();\n` +
        `await store.set('session:dev', JSON.stringify(item)); console.log(item.accessKeyId)`,
    )
  }

  it('a cached session with under 15 min left is refreshed before the CLI gets it', async () => {
    const old = (await ageSession(10)).trim()
    endpoint.clear()
    const r = await callerIdentity()
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(
      operations().map((o) => o[0]),
      ['GetSessionToken', 'GetCallerIdentity'],
    )
    assert.notEqual(endpoint.requests[1]!.accessKeyId, old)
  })

  it('a failing refresh near expiry refuses instead of handing out the stale session', async () => {
    const old = (await ageSession(10)).trim()
    endpoint.clear()
    endpoint.failWith = 'Throttling'
    let r: RunResult
    try {
      r = await callerIdentity()
    } finally {
      endpoint.failWith = null
    }

    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /refused \(sts-failed\).*throttled/)
    assert.doesNotMatch(r.stderr, /NodeVersionSupportWarning/, "only av's own message reaches the person")
    assert.ok(!endpoint.requests.some((q) => q.accessKeyId === old), 'the stale session was never used')
    assert.ok(!endpoint.requests.some((q) => q.operation === 'GetCallerIdentity'))
    assertClean(r)
  })

  it('a two-hop role chain: av assumes both roles itself, the CLI gets the last role and caches nothing', async () => {
    endpoint.clear()
    const r = await callerIdentity('ops')
    assert.equal(r.code, 0, r.stderr)
    assertClean(r)
    const calls = endpoint.requests.filter((q) => q.operation !== 'GetSessionToken')
    assert.deepEqual(
      calls.map((q) => [q.operation, q.verified, q.hasSecurityToken, new URLSearchParams(q.body).get('RoleArn')]),
      [
        ['AssumeRole', true, true, 'arn:aws:iam::123456789012:role/admin'],
        ['AssumeRole', true, true, 'arn:aws:iam::123456789012:role/ops'],
        ['GetCallerIdentity', true, true, null],
      ],
    )
    const [admin, ops, data] = calls
    assert.equal(new URLSearchParams(admin!.body).get('ExternalId'), 'ext-1')
    assert.equal(new URLSearchParams(ops!.body).get('RoleSessionName'), 'e2e')
    const keys = new Set([admin!.accessKeyId, data!.accessKeyId, DURABLE.accessKeyId, ops!.accessKeyId])
    assert.equal(keys.size, 4, 'each hop is signed by the credentials of the hop before')
    assert.deepEqual(auditReleases().at(-1), ['role', false])
    assert.equal(existsSync(path.join(sandbox.home, '.aws', 'cli', 'cache')), false)
    endpoint.clear()
    assert.equal((await callerIdentity('ops')).code, 0)
    assert.deepEqual(
      operations().map((o) => o[0]),
      ['GetCallerIdentity'],
    )
  })

  it('mfa_serial: the code comes from the root-owned approver program, and the MFA session is cached', async () => {
    endpoint.clear()
    const r = await callerIdentity('mfa')
    assert.equal(r.code, 0, r.stderr)
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

  async function listUsers(profile: string): Promise<RunResult> {
    // IAM is held by the gate: the root-owned approver program approves (exit 0), as a person would.
    return av(['run', '--', 'aws', 'iam', 'list-users', '--endpoint-url', endpoint.url, '--profile', profile])
  }

  it('IAM on an MFA session runs on that session; without MFA it is elevated to the durable key', async () => {
    endpoint.clear()
    const mfa = await listUsers('mfa')
    assert.equal(mfa.code, 0, mfa.stderr)
    assert.equal(JSON.parse(mfa.stdout).Users[0].UserName, 'av-canary')
    const onSession = endpoint.requests.find((r) => r.operation === 'ListUsers')!
    assert.deepEqual([onSession.verified, onSession.hasSecurityToken], [true, true])
    assert.match(onSession.accessKeyId!, /^ASIA/)
    assert.ok(
      endpoint.issued.some((c) => c.accessKeyId === onSession.accessKeyId && c.mfa === true),
      'signed by the session GetSessionToken issued with SerialNumber and TokenCode',
    )
    assert.deepEqual(auditReleases().at(-1), ['session', true])

    endpoint.clear()
    const plain = await listUsers('dev')
    assert.equal(plain.code, 0, plain.stderr)
    const withKey = endpoint.requests.find((r) => r.operation === 'ListUsers')!
    assert.deepEqual(
      [withKey.accessKeyId, withKey.verified, withKey.hasSecurityToken],
      [DURABLE.accessKeyId, true, false],
    )
    assert.deepEqual(auditReleases().at(-1), ['durable', false])
    assertClean(mfa)
    assertClean(plain)
  })

  it('the endpoint refuses IAM signed with a session obtained without MFA (what elevation avoids)', async () => {
    // The dev session is cached from the runs above: sign ListUsers with it directly, outside av.
    const session = endpoint.issued.find((c) => c.mfa !== true)!
    assert.ok(session, 'a non-MFA session was issued')
    const r = await sandbox.run(
      ['/usr/bin/python3', '-I', '/usr/bin/aws', 'iam', 'list-users', '--endpoint-url', endpoint.url],
      {
        env: {
          AWS_ACCESS_KEY_ID: session.accessKeyId,
          AWS_SECRET_ACCESS_KEY: session.secretAccessKey,
          AWS_SESSION_TOKEN: session.sessionToken!,
          AWS_DEFAULT_REGION: 'us-east-1',
          AWS_CONFIG_FILE: '/dev/null',
          AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
        },
      },
    )
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /InvalidClientTokenId/)
  })

  it('left the durable canary in no file of the sandbox (HOME, run dirs, audit log)', () => {
    assert.deepEqual(filesWithSecret(sandbox.base), [])
  })

  it('session clear with nothing cached says so', async () => {
    await av(['session', 'clear'])
    const r = await av(['session', 'clear'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, 'No cached sessions to clear.\n')
  })
})
