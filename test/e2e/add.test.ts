/**
 * `av add` end to end through a real pty, as the unprivileged test user: the key is typed with echo off, checked
 * at the SigV4 endpoint, stored (the OS keychain, or root custody), and config runs av for it; the secret is in no
 * file, argv, environment or terminal output. Custody mode then takes the offered `av rotate` (the user's password
 * on the same pty), so the live key is one that was never typed.
 */
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync} from 'node:fs'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'

import {assertNoSecret, canaryKey, filesWithSecret} from './support/canary.js'
import {type CustodyWorld, startCustodyWorld} from './support/custody-world.js'
import {flat, installAv, type Installed, removeInstall} from './support/install.js'
import {processesHolding} from './support/procfs.js'
import {answerOnPty} from './support/pty.js'
import {type RecordedRequest, type SigV4Endpoint, startEndpoint} from './support/sigv4-endpoint.js'
import {type KeyringSandbox, startKeyringSandbox} from './support/user-sandbox.js'

const REGION = 'eu-west-1'
/** av add's two hidden questions, its rotate offer, and sudo's password prompt. */
const PROMPTS = /\(not shown\): |\[y\/N] |password for [^\n:]*:/

/** The user's ~/.aws with a config that names the profile's region and no credentials file. */
function awsDir(sandbox: KeyringSandbox): void {
  const aws = path.join(sandbox.home, '.aws')
  mkdirSync(aws, {mode: 0o700})
  spawnSync('/usr/bin/sh', ['-c', `printf '[default]\\nregion = ${REGION}\\n' > ${aws}/config`])
  spawnSync('/usr/bin/chown', ['-R', `${sandbox.user.uid}:${sandbox.user.gid}`, aws])
}

/** Access key ids of what `av run -- aws sts get-caller-identity` sent to the endpoint. */
async function callerIdentity(sandbox: KeyringSandbox, install: Installed, endpoint: SigV4Endpoint) {
  const mark = endpoint.requests.length
  const argv = ['/usr/bin/node', install.av, 'run', '--', 'aws', 'sts', 'get-caller-identity']
  const r = await sandbox.run([...argv, '--endpoint-url', endpoint.url], {env: install.env})
  assert.equal(r.code, 0, r.stderr)
  return endpoint.requests.slice(mark).map((q) => [q.operation, q.accessKeyId, q.verified] as const)
}

describe('av add in keychain mode', () => {
  const KEY = canaryKey('ADDK')
  let endpoint: SigV4Endpoint
  let install: Installed
  let sandbox: KeyringSandbox

  before(async () => {
    endpoint = await startEndpoint({credentials: [KEY]})
    install = installAv({iam: {endpoint: endpoint.url}, sts: {endpoint: endpoint.url}})
    sandbox = await startKeyringSandbox()
    awsDir(sandbox)
  })

  after(async () => {
    await sandbox?.stop()
    removeInstall(install)
    await endpoint?.stop()
  })

  it('without a terminal it asks nothing and changes nothing', async () => {
    const r = await sandbox.run(['/usr/bin/node', install.av, 'add', '--profile', 'default'], {env: install.env})
    assert.equal(r.code, 126, r.stderr)
    assert.match(flat(r.stderr), /no terminal to type the key on; nothing was changed/)
    assert.doesNotMatch(readFileSync(path.join(sandbox.home, '.aws', 'config'), 'utf8'), /credential_process/)
  })

  it('a mistyped secret is checked at the endpoint and not stored', async () => {
    const wrong = `${KEY.secretAccessKey.slice(0, -4)}Zzzz`
    const r = await answerOnPty(
      sandbox,
      `stty cols 120; ${install.av} add --profile default`,
      [KEY.accessKeyId, wrong, 'n'],
      {
        env: install.env,
        prompt: PROMPTS,
      },
    )
    assert.notEqual(r.code, 0)
    assert.match(
      flat(r.stdout),
      /the key does not work: GetCallerIdentity answered SignatureDoesNotMatch; nothing was stored/,
    )
    assert.ok(!r.stdout.includes(wrong.slice(15)), 'the typed secret is not echoed')
    const search = await sandbox.run(['/usr/bin/secret-tool', 'search', '--all', 'service', 'av'])
    assert.doesNotMatch(search.stdout, /aws:default/)
  })

  it('typed with echo off: stored in the keychain, config runs av, the secret nowhere else; aws signs from it', async () => {
    // While av checks the key (GetCallerIdentity held open), no process holds the secret in argv, and none of the
    // user's in its environment: it went from the terminal into av's memory only.
    const mark = endpoint.requests.length
    const checking = (q: RecordedRequest) => q.operation === 'GetCallerIdentity' && endpoint.requests.indexOf(q) >= mark
    endpoint.hold(checking)
    const adding = answerOnPty(
      sandbox,
      `stty cols 120; ${install.av} add --profile default`,
      [KEY.accessKeyId, KEY.secretAccessKey, 'n'],
      {env: install.env, prompt: PROMPTS},
    )
    let seen: string[]
    try {
      await endpoint.waitForRequest(checking, 60_000)
      seen = processesHolding(KEY.secretAccessKey, sandbox.user.uid)
    } finally {
      endpoint.release()
    }

    const r = await adding
    assert.deepEqual(seen, [], 'no argv or user environment held the secret while av checked it')
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.match(r.stdout, /secret access key for default \(not shown\)/)
    assert.match(
      flat(r.stdout),
      /added default: key AKIAAVCANARY0000ADDK \(arn:aws:iam::\d+:user\/av-canary\) is in the OS keychain/,
    )
    assert.match(r.stdout, /Rotate it now/)
    // Echo was off: what the terminal showed holds neither the secret nor the key id typed.
    assertNoSecret({pty: r.stdout + r.stderr}, [KEY.secretAccessKey])
    assert.ok(!r.stdout.includes(`${KEY.accessKeyId}\r\n`), 'the typed key id was not echoed')
    const lookup = await sandbox.run(['/usr/bin/secret-tool', 'lookup', 'service', 'av', 'username', 'aws:default'])
    const item = JSON.parse(lookup.stdout) as {accessKeyId: string; secretAccessKey: string; storedAt: string}
    assert.equal(item.accessKeyId, KEY.accessKeyId)
    assert.equal(item.secretAccessKey, KEY.secretAccessKey)
    assert.ok(Date.now() - Date.parse(item.storedAt) < 120_000, 'stamped with when it was stored')
    const config = readFileSync(path.join(sandbox.home, '.aws', 'config'), 'utf8')
    assert.match(config, /^credential_process = \S+ credential-helper aws --profile default$/m)
    assert.ok(!existsSync(path.join(sandbox.home, '.aws', 'credentials')))
    assert.deepEqual(filesWithSecret(sandbox.base), [])
    const sent = await callerIdentity(sandbox, install, endpoint)
    assert.deepEqual(sent[0], ['GetSessionToken', KEY.accessKeyId, true])
    const log = await sandbox.run(['/usr/bin/node', install.av, 'log', '--event', 'add', '--json'], {env: install.env})
    assert.match(log.stdout, /"event":"add".*"profile":"default"/)
    assertNoSecret({log: log.stdout})
  })

  it('a second add for the same profile is refused before asking', async () => {
    const r = await sandbox.run(['/usr/bin/node', install.av, 'add', '--profile', 'default'], {env: install.env})
    assert.equal(r.code, 126, r.stderr)
    assert.match(flat(r.stderr), /av already holds a key for profile default/)
    assert.match(flat(r.stderr), /av rotate --profile default/)
  })
})

describe('av add in custody mode, then the offered rotation', () => {
  const KEY = canaryKey('ADDC')
  let world: CustodyWorld
  let endpoint: SigV4Endpoint
  let install: Installed
  let sandbox: KeyringSandbox
  let password: string
  const item = (account: string) => world.item(account)

  before(async () => {
    world = await startCustodyWorld({key: KEY, keyDelayMs: 1000, prefix: 'custody-add-'})
    ;({endpoint, install, password, sandbox} = world)
    awsDir(sandbox)
  })

  after(() => world?.stop())

  it('stores into root custody, rotates after the password, and the live key is one nobody typed', async () => {
    const r = await answerOnPty(
      sandbox,
      `stty cols 120; ${install.av} add --profile default`,
      [KEY.accessKeyId, KEY.secretAccessKey, 'y', password],
      {env: install.env, prompt: PROMPTS, timeoutMs: 90_000},
    )
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.match(flat(r.stdout), /added default: key AKIAAVCANARY0000ADDC .* is in root custody/)
    assert.match(r.stdout, /rotated default: AKIAAVCANARY0000ADDC → AKIA/)
    assert.match(r.stdout, /store +new key AKIA\w+ stored in root custody/)
    assertNoSecret({pty: r.stdout + r.stderr}, [KEY.secretAccessKey])
    const held = JSON.parse(readFileSync(item('aws:default'), 'utf8')) as {accessKeyId: string; secretAccessKey: string}
    assert.notEqual(held.accessKeyId, KEY.accessKeyId)
    assert.match(held.secretAccessKey, /^avCanarySecretRotated\//)
    assert.deepEqual(
      endpoint.iamKeys().map((k) => k.accessKeyId),
      [held.accessKeyId],
    )
    assert.deepEqual(endpoint.deleted, [KEY.accessKeyId])
    // Neither the typed key nor the one root made is in the user's files or keychain.
    assert.deepEqual(filesWithSecret(sandbox.base), [])
    const search = await sandbox.run(['/usr/bin/secret-tool', 'search', '--all', 'service', 'av'])
    assertNoSecret({search: search.stdout + search.stderr}, [KEY.secretAccessKey, held.secretAccessKey])
    const sent = await callerIdentity(sandbox, install, endpoint)
    assert.deepEqual(sent[0], ['GetSessionToken', held.accessKeyId, true])
  })
})
