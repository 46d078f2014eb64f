/**
 * The promise to the user, end to end with real parts: after `sudo av install` and `av migrate`, the real AWS CLI
 * v2 works through `av run -- aws …` and through the installed `aws` launcher, signing with the migrated canary
 * key (verified by the local SigV4 endpoint), while no key is left in a user-readable file.
 */
import assert from 'node:assert/strict'
import {readdirSync, readFileSync} from 'node:fs'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'

import {PREWARM_PYTHON, runtimeOfPrewarm} from '../../src/lib/run/prewarm.js'
import {type AvWorld, startAvWorld} from './support/av-fixture.js'
import {childrenOf, cmdlineOf, parseEnviron} from './support/procfs.js'

describe('av run and the installed aws launcher (real AWS CLI, real keychain)', () => {
  let world: AvWorld
  let url: string

  before(async () => {
    world = await startAvWorld({keySuffix: 'RUN1'})
    url = world.endpoint.url
  })

  after(async () => {
    await world?.stop()
  })

  it('migrate left no key in ~/.aws and points credential_process at the installed av', () => {
    const {home} = world.sandbox
    const credentials = readFileSync(path.join(home, '.aws', 'credentials'), 'utf8')
    assert.ok(!credentials.includes(world.key.accessKeyId))
    const config = readFileSync(path.join(home, '.aws', 'config'), 'utf8')
    assert.match(config, new RegExp(`credential_process = ${world.install.av} credential-helper aws --profile default`))
    world.assertNoLeak({credentials, config})
  })

  const callers: Array<[string, (w: AvWorld, args: string[]) => ReturnType<AvWorld['av']>]> = [
    ['av run -- aws', (w, args) => w.av(['run', '--', 'aws', ...args])],
    ['the installed aws launcher', (w, args) => w.aws(args)],
  ]

  for (const [name, call] of callers) {
    it(`${name} sts get-caller-identity: the endpoint verifies the canary key's signature`, async () => {
      const mark = world.endpoint.requests.length
      const r = await call(world, ['sts', 'get-caller-identity', '--endpoint-url', url])
      assert.equal(r.code, 0, r.stderr)
      assert.equal(JSON.parse(r.stdout).Account, '123456789012')
      const seen = world.since(mark)
      const call1 = seen.find((q) => q.operation === 'GetCallerIdentity')
      assert.ok(call1, 'GetCallerIdentity reached the endpoint')
      assert.ok(world.canaryKeyIds().has(call1.accessKeyId!), `signed with ${call1.accessKeyId}`)
      assert.deepEqual(
        seen.filter((q) => !q.verified).map((q) => q.failure),
        [],
      )
      world.assertNoLeak({stdout: r.stdout, stderr: r.stderr})
    })

    it(`${name} s3 ls: S3 path signing verifies and the bucket is listed`, async () => {
      const mark = world.endpoint.requests.length
      const r = await call(world, ['s3', 'ls', '--endpoint-url', url])
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, /av-canary-bucket/)
      const list = world.since(mark).find((q) => q.operation === 'ListBuckets')
      assert.ok(list, 'ListBuckets reached the endpoint')
      assert.equal(list.verified, true, list.failure ?? '')
      assert.ok(world.canaryKeyIds().has(list.accessKeyId!))
      world.assertNoLeak({stdout: r.stdout, stderr: r.stderr})
    })
  }

  it("exits with the AWS CLI's own exit code and passes its stderr through", async () => {
    const r = await world.av(['run', '--', 'aws', 's3api', 'head-bucket', '--bucket', 'b', '--endpoint-url', url])
    // head-bucket gets a 400 from the endpoint (it serves objects, not buckets): the CLI exits 254 for a service error.
    assert.equal(r.code, 254, r.stderr)
    assert.match(r.stderr, /HeadBucket/)
    world.assertNoLeak({stdout: r.stdout, stderr: r.stderr})
  })

  it('runs nothing but the AWS CLI after --', async () => {
    const r = await world.av(['run', '--', 'sh', '-c', 'echo av-e2e-ran-sh'])
    assert.notEqual(r.code, 0)
    assert.ok(!r.stdout.includes('av-e2e-ran-sh'))
    assert.match(r.stderr, /aws/)
  })

  it('the AWS CLI imports while the launcher gates: the live CLI is the waiting program, and the run works', async () => {
    const mark = world.endpoint.requests.length
    world.endpoint.hold()
    const run = world.sandbox.spawn(
      [process.execPath, world.install.av, 'run', '--', 'aws', 'sts', 'get-caller-identity', '--endpoint-url', url],
      {env: world.install.env},
    )
    let cliArgv: string[] = []
    let credentialProcess = ''
    try {
      await world.endpoint.waitForRequest((q) => world.endpoint.requests.indexOf(q) >= mark)
      const cli = childrenOf(run.pid).find((pid) => cmdlineOf(pid).includes('/usr/bin/aws'))
      assert.ok(cli, 'the launcher has an AWS CLI child while the request is held')
      cliArgv = cmdlineOf(cli)
      const sealed = readFileSync(parseEnviron(readFileSync(`/proc/${cli}/environ`, 'utf8')).AWS_CONFIG_FILE!, 'utf8')
      credentialProcess = /^credential_process = (.*)$/m.exec(sealed)?.[1] ?? ''
    } finally {
      world.endpoint.release()
    }

    const r = await run.result
    assert.equal(r.code, 0, r.stderr)
    assert.equal(JSON.parse(r.stdout).Account, '123456789012')
    assert.deepEqual(runtimeOfPrewarm(cliArgv)?.at(-1), '/usr/bin/aws', 'the CLI runs the waiting program')
    // ...and asks the helper's CommonJS entry, run by the launcher's own root-owned Node.
    const helperEntry = path.join(world.install.tree, 'dist', 'lib', 'main', 'helper-entry.cjs')
    assert.equal(credentialProcess, `${process.execPath} ${helperEntry} credential-helper aws --profile default`)
    assert.deepEqual(cliArgv.slice(-4), ['sts', 'get-caller-identity', '--endpoint-url', url])
    world.assertNoLeak({stdout: r.stdout, stderr: r.stderr})
  })

  it('a held command no one approves: no interpreter of it is left waiting, and nothing reaches the endpoint', async () => {
    const mark = world.endpoint.requests.length
    const r = await world.av(['run', '--', 'aws', 'sts', 'get-session-token', '--endpoint-url', url])
    assert.equal(r.code, 126, r.stderr)
    assert.match(r.stderr, /needs approval/)
    assert.deepEqual(world.since(mark), [])
    const waiting = readdirSync('/proc')
      .filter((name) => /^\d+$/.test(name))
      .filter((pid) => cmdlineOf(Number(pid)).includes(PREWARM_PYTHON))
    assert.deepEqual(waiting, [], 'no waiting interpreter is left')
    world.assertNoLeak({stdout: r.stdout, stderr: r.stderr})
  })

  it('the installed av starts `av run -- aws` without NODE_EXTRA_CA_CERTS (Node would load that CA file first)', async () => {
    const av = path.join(world.install.binDir, 'av')
    const env = {...world.install.env, NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt'}
    const mark = world.endpoint.requests.length
    world.endpoint.hold()
    const run = world.sandbox.spawn([av, 'run', '--', 'aws', 'sts', 'get-caller-identity', '--endpoint-url', url], {
      env,
    })
    let launcherEnv: Record<string, string> = {}
    try {
      await world.endpoint.waitForRequest((q) => world.endpoint.requests.indexOf(q) >= mark)
      // The shim execs env, which execs Node: the launcher keeps the shim's pid.
      launcherEnv = parseEnviron(readFileSync(`/proc/${run.pid}/environ`, 'utf8'))
    } finally {
      world.endpoint.release()
    }

    const r = await run.result
    assert.equal(r.code, 0, r.stderr)
    assert.equal(launcherEnv.NODE_EXTRA_CA_CERTS, undefined)
    assert.equal(launcherEnv.AV_POLICY, world.install.env.AV_POLICY)
    world.assertNoLeak({stdout: r.stdout, stderr: r.stderr})
  })

  it('removes the private HOME of each run', async () => {
    const before = readdirSync(world.sandbox.runtimeDir).sort()
    const r = await world.av(['run', '--', 'aws', 'sts', 'get-caller-identity', '--endpoint-url', url])
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(readdirSync(world.sandbox.runtimeDir).sort(), before)
  })
})
