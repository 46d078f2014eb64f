/**
 * `av rotate` end to end, as the unprivileged test user, against the SigV4 endpoint's IAM (two keys per user, a new
 * key refused for a moment after CreateAccessKey): keychain mode (av rotates in-process) and custody mode (root
 * rotates after sudo asks the user's password; the new secret never reaches the user's uid). After a rotation the
 * CLI's requests are signed by sessions from the new key and the old key is refused; two keys already, no password
 * or no confirmation change nothing; a rotation killed with SIGKILL is finished by the next `av rotate`.
 */
import assert from 'node:assert/strict'
import {chownSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'

import {assertNoSecret, canaryKey, type CanaryKey, filesWithSecret} from './support/canary.js'
import {type CustodyWorld, startCustodyWorld} from './support/custody-world.js'
import {flat, installAv, type Installed, removeInstall} from './support/install.js'
import {processesHolding} from './support/procfs.js'
import {typing} from './support/pty.js'
import {type RecordedRequest, type SigV4Endpoint, startEndpoint} from './support/sigv4-endpoint.js'
import {type KeyringSandbox, type RunResult, sleep, startKeyringSandbox} from './support/user-sandbox.js'

const REGION = 'eu-west-1'
const STEPS = ['list', 'journal', 'create', 'store', 'verify', 'delete', 'sessions']

/** The step names of `av rotate`'s lines for the default profile. */
function stepsOf(stdout: string): string[] {
  return [...stdout.matchAll(/^default: (\w+) /gm)].map((m) => m[1]!)
}

/** The user's plaintext canary key, then `av migrate --yes` (keychain or custody, as installed). */
async function migrated(sandbox: KeyringSandbox, install: Installed, key: CanaryKey): Promise<void> {
  const {gid, uid} = sandbox.user
  const aws = path.join(sandbox.home, '.aws')
  mkdirSync(aws, {mode: 0o700})
  writeFileSync(path.join(aws, 'config'), `[default]\nregion = ${REGION}\noutput = json\n`, {mode: 0o600})
  writeFileSync(
    path.join(aws, 'credentials'),
    `[default]\naws_access_key_id = ${key.accessKeyId}\naws_secret_access_key = ${key.secretAccessKey}\n`,
    {mode: 0o600},
  )
  for (const p of [aws, path.join(aws, 'config'), path.join(aws, 'credentials')]) chownSync(p, uid, gid)
  const r = await sandbox.run(['/usr/bin/node', install.av, 'migrate', '--yes'], {env: install.env})
  assert.equal(r.code, 0, r.stderr)
}

/** `av run -- aws sts get-caller-identity` against the endpoint; the access key ids of what reached it. */
async function callerIdentity(sandbox: KeyringSandbox, install: Installed, endpoint: SigV4Endpoint) {
  const mark = endpoint.requests.length
  const argv = ['/usr/bin/node', install.av, 'run', '--', 'aws', 'sts', 'get-caller-identity']
  const r = await sandbox.run([...argv, '--endpoint-url', endpoint.url], {env: install.env})
  assert.equal(r.code, 0, r.stderr)
  return endpoint.requests.slice(mark).map((q) => [q.operation, q.accessKeyId, q.verified] as const)
}

/** Whether the endpoint takes `key` (GetCallerIdentity signed with it from this process, through av's own code). */
async function works(endpoint: SigV4Endpoint, key: CanaryKey): Promise<boolean> {
  const {sdkCallerIdentity} = await import('../../src/lib/aws/sts-client.js')
  try {
    await sdkCallerIdentity({credentials: key, endpoint: endpoint.url, region: REGION})
    return true
  } catch (error) {
    assert.equal((error as Error).name, 'InvalidClientTokenId')
    return false
  }
}

describe('av rotate in keychain mode', () => {
  const KEY = canaryKey('R07K')
  let endpoint: SigV4Endpoint
  let install: Installed
  let sandbox: KeyringSandbox

  const av = (args: string[]) => sandbox.run(['/usr/bin/node', install.av, ...args], {env: install.env})
  async function stored(): Promise<{accessKeyId: string; secretAccessKey: string}> {
    const r = await sandbox.run(['/usr/bin/secret-tool', 'lookup', 'service', 'av', 'username', 'aws:default'])
    return JSON.parse(r.stdout) as {accessKeyId: string; secretAccessKey: string}
  }

  before(async () => {
    endpoint = await startEndpoint({credentials: [KEY], keyDelayMs: 1500})
    install = installAv({iam: {endpoint: endpoint.url}, sts: {endpoint: endpoint.url}})
    sandbox = await startKeyringSandbox()
    await migrated(sandbox, install, KEY)
  })

  after(async () => {
    await sandbox?.stop()
    removeInstall(install)
    await endpoint?.stop()
  })

  it('without a terminal and without --yes it changes nothing', async () => {
    const r = await av(['rotate'])
    assert.equal(r.code, 126, r.stderr)
    assert.match(flat(r.stderr), /no terminal to confirm it; nothing was changed/)
    assert.equal(endpoint.requests.filter((q) => q.service === 'iam').length, 0)
    assert.equal((await stored()).accessKeyId, KEY.accessKeyId)
  })

  it('rotates: one line per step, the new key stored, the old one deleted and refused, later runs signed from the new key', async () => {
    const before = await callerIdentity(sandbox, install, endpoint)
    assert.deepEqual(
      before.map(([op, id]) => [op, id === KEY.accessKeyId]),
      [
        ['GetSessionToken', true],
        ['GetCallerIdentity', false],
      ],
    )
    const r = await av(['rotate', '--profile', 'default', '--yes'])
    assert.equal(r.code, 0, r.stderr)
    const steps = stepsOf(r.stdout)
    assert.deepEqual(steps, STEPS)
    assert.match(r.stdout, /`av restore` now writes back the new key/)
    const now = await stored()
    assert.notEqual(now.accessKeyId, KEY.accessKeyId)
    assert.deepEqual(
      endpoint.iamKeys().map((k) => k.accessKeyId),
      [now.accessKeyId],
    )
    assert.deepEqual(endpoint.deleted, [KEY.accessKeyId])
    assert.equal(await works(endpoint, KEY), false)
    assert.equal(await works(endpoint, now), true)
    // The cached session from the old key was dropped: the next run asks STS again, with the new key.
    const afterRun = await callerIdentity(sandbox, install, endpoint)
    assert.deepEqual(afterRun[0], ['GetSessionToken', now.accessKeyId, true])
    assert.equal(afterRun[1]![0], 'GetCallerIdentity')
    assert.match(afterRun[1]![1]!, /^ASIA/)
    assertNoSecret({stderr: r.stderr, stdout: r.stdout})
    console.log(`# keychain rotation: ${r.ms} ms for the whole av rotate (new key refused for 1.5 s)`)
  })

  it('--json: one result per profile; the audit trail has each step, no secret', async () => {
    const r = await av(['rotate', '--yes', '--json'])
    assert.equal(r.code, 0, r.stderr)
    const doc = JSON.parse(r.stdout) as {mode: string; results: Array<Record<string, unknown>>}
    assert.equal(doc.mode, 'keychain')
    assert.equal(doc.results.length, 1)
    const [result] = doc.results
    assert.equal(result!.profile, 'default')
    assert.equal(result!.newAccessKeyId, (await stored()).accessKeyId)
    assert.ok((result!.verifyAttempts as number) >= 2, 'the new key was refused at first and waited for')
    const log = await av(['log', '--event', 'rotate', '--json'])
    assert.equal(log.code, 0, log.stderr)
    assert.equal(log.stdout.trim().split('\n').length, 14)
    assertNoSecret({log: log.stdout, stdout: r.stdout})
    console.log(
      `# keychain rotation --json: ${result!.ms} ms, verify ${result!.verifyMs} ms in ${result!.verifyAttempts} calls`,
    )
  })

  it('two keys already: a clear refusal, nothing changed', async () => {
    const other = canaryKey('R07X')
    endpoint.addKey(other)
    try {
      const mark = endpoint.requests.length
      const held = await stored()
      const r = await av(['rotate', '--yes'])
      assert.equal(r.code, 126, r.stderr)
      assert.match(flat(r.stderr), /already has two access keys .*Nothing was changed/)
      assert.match(flat(r.stderr), new RegExp(`Delete ${other.accessKeyId}`))
      assert.deepEqual(await stored(), held)
      assert.deepEqual(
        endpoint.requests.slice(mark).map((q) => q.operation),
        ['ListAccessKeys'],
      )
      const search = await sandbox.run(['/usr/bin/secret-tool', 'search', '--all', 'service', 'av'])
      assert.doesNotMatch(search.stdout, /keyring:rotate:/)
    } finally {
      endpoint.removeKey(other.accessKeyId)
    }
  })

  it('killed with SIGKILL while deleting the old key: a re-run finishes, one working key stored', async () => {
    const held = await stored()
    const mark = endpoint.requests.length
    const deleting = (q: RecordedRequest) => q.operation === 'DeleteAccessKey' && endpoint.requests.indexOf(q) >= mark
    endpoint.hold(deleting)
    const started = sandbox.spawn(['/usr/bin/node', install.av, 'rotate', '--yes'], {env: install.env})
    try {
      await endpoint.waitForRequest(deleting)
      process.kill(started.pid, 'SIGKILL')
      assert.equal((await started.result).signal, 'SIGKILL')
    } finally {
      endpoint.release()
    }

    await sleep(200)
    // Both keys exist, the new one stored; the old one is in the journal, so nothing is lost.
    const mid = await stored()
    assert.notEqual(mid.accessKeyId, held.accessKeyId)
    assert.ok(endpoint.iamKeys().some((k) => k.accessKeyId === mid.accessKeyId))
    const journal = await sandbox.run(['/usr/bin/secret-tool', 'search', '--all', 'service', 'av'])
    assert.match(journal.stdout, /label = keyring:rotate:default@av/)
    const r = await av(['rotate', '--yes'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^default: resume /m)
    assert.match(r.stdout, /finished an interrupted rotation/)
    const now = await stored()
    assert.equal(now.accessKeyId, mid.accessKeyId)
    assert.deepEqual(
      endpoint.iamKeys().map((k) => k.accessKeyId),
      [now.accessKeyId],
    )
    assert.equal(await works(endpoint, held), false)
    await callerIdentity(sandbox, install, endpoint)
  })

  it('av restore then writes back the new key, and says so', async () => {
    const now = await stored()
    const r = await av(['restore', '--yes'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /the key written back for default \(av rotate replaced AKIA\w+ on [\d-]+T/)
    assert.match(r.stdout, /is the new one av rotate made: the key migrate took no longer exists/)
    const credentials = readFileSync(path.join(sandbox.home, '.aws', 'credentials'), 'utf8')
    assert.equal(
      credentials,
      `[default]\naws_access_key_id = ${now.accessKeyId}\naws_secret_access_key = ${now.secretAccessKey}\n`,
    )
  })
})

describe('av rotate in custody mode: root rotates, after the user’s password', () => {
  const KEY = canaryKey('R07C')
  let world: CustodyWorld
  let endpoint: SigV4Endpoint
  let install: Installed
  let sandbox: KeyringSandbox
  let custodyBase: string
  let password: string
  const item = (account: string) => world.item(account)
  const held = () =>
    JSON.parse(readFileSync(item('aws:default'), 'utf8')) as {accessKeyId: string; secretAccessKey: string}
  const rotate = (answer: string) =>
    sandbox.sh(typing(answer, `/usr/bin/node ${install.av} rotate --profile default`), {
      env: install.env,
      timeoutMs: 90_000,
    })
  const rootAudit = () =>
    readFileSync(path.join(custodyBase, 'custody', String(sandbox.user.uid), 'audit.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>)
  /** The steps root's audit log recorded for `rotate` since line `mark`. */
  const rotateSteps = (mark: number) =>
    rootAudit()
      .slice(mark)
      .filter((e) => e.event === 'rotate')
      .map((e) => e.step)

  /** `av rotate` with the password, and root's rotate process killed with SIGKILL once `request` reaches IAM. */
  async function killRootAt(request: (q: RecordedRequest) => boolean, options: {lose?: boolean} = {}) {
    endpoint.hold(request, options)
    const running = rotate(password)
    try {
      await endpoint.waitForRequest(request, 60_000)
      const root = readdirSync('/proc')
        .filter((name) => /^\d+$/.test(name))
        .filter((pid) => {
          try {
            const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
            return argv.some((a) => a.endsWith('/custody-main.js')) && argv.includes('rotate')
          } catch {
            return false
          }
        })
      assert.equal(root.length, 1, `root's rotate process: ${root.join(', ')}`)
      process.kill(Number(root[0]), 'SIGKILL')
    } finally {
      endpoint.release()
    }

    return running
  }

  before(async () => {
    world = await startCustodyWorld({key: KEY, keyDelayMs: 1500, prefix: 'custody-rotate-'})
    ;({endpoint, install, password, sandbox} = world)
    custodyBase = world.base
    await migrated(sandbox, install, KEY)
    assert.equal(held().accessKeyId, KEY.accessKeyId)
  })

  after(() => world?.stop())

  it('no terminal for the password, or a wrong one: refused, nothing changed', async () => {
    const none: RunResult = await sandbox.run(['/usr/bin/node', install.av, 'rotate'], {env: install.env})
    assert.equal(none.code, 126, none.stderr)
    assert.match(flat(none.stderr), /needs your password, and there is no terminal/)
    const wrong = await rotate('not-the-password')
    assert.notEqual(wrong.code, 0)
    assert.equal(endpoint.requests.filter((q) => q.service === 'iam').length, 0)
    assert.equal(held().accessKeyId, KEY.accessKeyId)
  })

  it('with the password root rotates; the new secret reaches no user file, keychain or output; later runs use it', async () => {
    const before = await callerIdentity(sandbox, install, endpoint)
    assert.equal(before[0]![1], KEY.accessKeyId)
    // While root waits on DeleteAccessKey, the new key exists: no process's argv, and no environment of the
    // user's processes, holds its secret.
    const mark = endpoint.requests.length
    const auditMark = rootAudit().length
    const deleting = (q: RecordedRequest) => q.operation === 'DeleteAccessKey' && endpoint.requests.indexOf(q) >= mark
    endpoint.hold(deleting)
    const running = rotate(password)
    let seen: string[]
    try {
      await endpoint.waitForRequest(deleting, 60_000)
      seen = processesHolding('avCanarySecretRotated', sandbox.user.uid)
      // The scan does see what is there: the typed password is in the argv of the test's own `sh -c`.
      assert.notDeepEqual(processesHolding(password, sandbox.user.uid), [])
    } finally {
      endpoint.release()
    }

    const r = await running
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.deepEqual(seen, [])
    // On a terminal the steps show as a listr2 list, each step under its profile; root's audit has them in order.
    const steps = rotateSteps(auditMark)
    assert.deepEqual(steps, STEPS)
    assert.match(r.stdout, /✔ Rotate the key of default/)
    for (const step of STEPS) assert.match(r.stdout, new RegExp(`${step} +\\S`))
    const now = held()
    assert.notEqual(now.accessKeyId, KEY.accessKeyId)
    assert.match(now.secretAccessKey, /^avCanarySecretRotated\//)
    assert.deepEqual(
      endpoint.iamKeys().map((k) => k.accessKeyId),
      [now.accessKeyId],
    )
    assert.equal(await works(endpoint, KEY), false)
    // Every IAM call was signed by root's process with a durable key: none with a session.
    assert.ok(endpoint.requests.filter((q) => q.service === 'iam').every((q) => q.verified && !q.hasSecurityToken))
    assertNoSecret({stderr: r.stderr, stdout: r.stdout}, [now.secretAccessKey])
    assert.deepEqual(filesWithSecret(sandbox.base), [])
    const search = await sandbox.run(['/usr/bin/secret-tool', 'search', '--all', 'service', 'av'])
    assertNoSecret({search: search.stdout + search.stderr}, [now.secretAccessKey])
    assert.ok(!existsSync(item('rotate:default')), 'the journal is gone')
    assertNoSecret({audit: JSON.stringify(rootAudit())}, [now.secretAccessKey])
    const afterRun = await callerIdentity(sandbox, install, endpoint)
    assert.deepEqual(afterRun[0], ['GetSessionToken', now.accessKeyId, true])
    console.log(`# custody rotation: ${r.ms} ms including the typed password (new key refused for 1.5 s)`)
  })

  it('two keys already: refused after the password, nothing changed', async () => {
    const other = canaryKey('R07Y')
    endpoint.addKey(other)
    try {
      const before = readFileSync(item('aws:default'), 'utf8')
      const r = await rotate(password)
      assert.notEqual(r.code, 0)
      assert.match(flat(r.stdout + r.stderr), /already has two access keys/)
      assert.equal(readFileSync(item('aws:default'), 'utf8'), before)
      assert.equal(endpoint.iamKeys().length, 2)
      assert.ok(!existsSync(item('rotate:default')))
    } finally {
      endpoint.removeKey(other.accessKeyId)
    }
  })

  it('root killed with SIGKILL while it waits for the new key: the next av rotate finishes from root’s journal', async () => {
    const old = held()
    const mark = endpoint.requests.length
    const verifying = (q: RecordedRequest) =>
      q.operation === 'GetCallerIdentity' && q.accessKeyId !== old.accessKeyId && endpoint.requests.indexOf(q) >= mark
    const killed = await killRootAt(verifying)
    assert.notEqual(killed.code, 0)
    assert.ok(existsSync(item('rotate:default')), 'root left its journal')
    const mid = held()
    assert.notEqual(mid.accessKeyId, old.accessKeyId)
    assert.equal(endpoint.iamKeys().length, 2)
    const auditMark = rootAudit().length
    const r = await rotate(password)
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.deepEqual(rotateSteps(auditMark), ['resume', 'verify', 'delete', 'sessions'])
    assert.equal(held().accessKeyId, mid.accessKeyId)
    assert.deepEqual(
      endpoint.iamKeys().map((k) => k.accessKeyId),
      [mid.accessKeyId],
    )
    assert.ok(!existsSync(item('rotate:default')))
    assert.equal(await works(endpoint, old), false)
    const afterRun = await callerIdentity(sandbox, install, endpoint)
    assert.deepEqual(afterRun[0], ['GetSessionToken', mid.accessKeyId, true])
  })

  it('root killed after IAM made the new key but before root learned it: the next av rotate deletes that key and rotates', async () => {
    const old = held()
    const mark = endpoint.requests.length
    const creating = (q: RecordedRequest) => q.operation === 'CreateAccessKey' && endpoint.requests.indexOf(q) >= mark
    // IAM carries the request out, and root is killed before the answer (with the new secret) reaches it.
    const killed = await killRootAt(creating, {lose: true})
    assert.notEqual(killed.code, 0)
    const journal = JSON.parse(readFileSync(item('rotate:default'), 'utf8')) as {
      new?: unknown
      old: {accessKeyId: string}
    }
    assert.equal(journal.old.accessKeyId, old.accessKeyId)
    assert.equal(journal.new, undefined, 'root never learned the new key')
    const orphan = endpoint.iamKeys().find((k) => k.accessKeyId !== old.accessKeyId)
    assert.ok(orphan, 'IAM made a key nobody holds')
    assert.equal(held().accessKeyId, old.accessKeyId)

    const auditMark = rootAudit().length
    const r = await rotate(password)
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.deepEqual(rotateSteps(auditMark), [
      'resume',
      'list',
      'orphan',
      'create',
      'store',
      'verify',
      'delete',
      'sessions',
    ])
    assert.ok(endpoint.deleted.includes(orphan.accessKeyId), 'the key nobody holds was deleted')
    const now = held()
    assert.ok(![old.accessKeyId, orphan.accessKeyId].includes(now.accessKeyId))
    assert.deepEqual(
      endpoint.iamKeys().map((k) => k.accessKeyId),
      [now.accessKeyId],
    )
    assert.ok(!existsSync(item('rotate:default')))
    assert.equal(await works(endpoint, old), false)
    assertNoSecret({stderr: r.stderr, stdout: r.stdout}, [now.secretAccessKey])
    const afterRun = await callerIdentity(sandbox, install, endpoint)
    assert.deepEqual(afterRun[0], ['GetSessionToken', now.accessKeyId, true])
  })
})
