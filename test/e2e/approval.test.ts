/**
 * A held command through `av run`, end to end: the root-owned policy names an approver program (what a phone push
 * or a desktop prompt would plug into), allows no custom endpoint without approval, and the real AWS CLI talks to
 * the local SigV4 endpoint only after the program said yes. A "no" means the CLI never starts: the endpoint sees
 * nothing. The program receives the request as JSON on stdin: the exact command, profile, category, endpoint and
 * who asked.
 */
import assert from 'node:assert/strict'
import {chownSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'

import {type AvWorld, startAvWorld} from './support/av-fixture.js'
import {e2eTempDir, writePolicy} from './support/install.js'

describe('approval of a held command through av run (root-owned approver program)', () => {
  let world: AvWorld
  let programs: string
  let requests: string

  /** A root-owned approver program that records the request it got and answers with `exitCode`. */
  function approver(name: string, exitCode: number): string {
    const file = path.join(programs, name)
    writeFileSync(file, `#!/bin/sh\ncat > "${requests}/${name}-$$.json"\nexit ${exitCode}\n`, {mode: 0o755})
    return file
  }

  function received(name: string): Array<Record<string, unknown>> {
    return readdirSync(requests)
      .filter((f) => f.startsWith(`${name}-`))
      .map((f) => JSON.parse(readFileSync(path.join(requests, f), 'utf8')) as Record<string, unknown>)
  }

  before(async () => {
    programs = e2eTempDir('approver-')
    requests = e2eTempDir('approvals-')
    const yes = approver('yes', 0)
    approver('no', 1)
    // No endpoint is allowed without approval: `--endpoint-url` to the local endpoint is held (category transport).
    world = await startAvWorld({keySuffix: 'APR1', policy: {approvers: [{program: yes}], endpoints: []}})
    // The approver runs as the world's user and writes what it was asked here.
    chownSync(requests, world.sandbox.user.uid, world.sandbox.user.gid)
  })

  after(async () => {
    await world?.stop()
    for (const dir of [programs, requests]) if (dir) rmSync(dir, {force: true, recursive: true})
  })

  it('runs the held command once the program approves, after sending it the exact request', async () => {
    const {url} = world.endpoint
    const mark = world.endpoint.requests.length
    const r = await world.av(['run', '--', 'aws', 's3', 'ls', '--endpoint-url', url])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /av-canary-bucket/)
    const seen = world.since(mark).filter((q) => q.operation === 'ListBuckets')
    assert.equal(seen.length, 1)
    assert.ok(seen[0]!.verified, seen[0]!.failure ?? '')

    const [request, ...more] = received('yes')
    assert.equal(more.length, 0, 'one approval asked for one run')
    assert.equal(request!.command, `aws s3 ls --endpoint-url ${url}`)
    assert.equal(request!.profile, 'default')
    assert.equal(request!.category, 'transport')
    assert.equal(request!.endpoint, url)
    assert.ok(Array.isArray(request!.chain) && (request!.chain as unknown[]).length > 0, 'names who asked')
    world.assertNoLeak({request: JSON.stringify(request), stderr: r.stderr, stdout: r.stdout})
  })

  it('never starts the AWS CLI when the program says no (126, the endpoint sees nothing)', async () => {
    writePolicy(world.install, {
      approvers: [{program: path.join(programs, 'no')}],
      endpoints: [],
      sts: {endpoint: world.endpoint.url},
    })
    const mark = world.endpoint.requests.length
    const r = await world.av(['run', '--', 'aws', 's3', 'ls', '--endpoint-url', world.endpoint.url])
    assert.equal(r.code, 126)
    assert.match(r.stderr, /needs approval .* and approval was denied/)
    assert.deepEqual(world.since(mark), [])
    assert.equal(received('no').length, 1)
    world.assertNoLeak({stderr: r.stderr, stdout: r.stdout})
  })
})
