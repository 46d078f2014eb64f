/**
 * The local SigV4 endpoint against the real AWS CLI v2 with plaintext canary keys: it must accept what the CLI
 * signs correctly (STS query protocol, S3 path signing, session tokens) and reject a wrong secret or unknown key.
 * Every later e2e assertion about "a verified signature" leans on this.
 */
import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {after, before, describe, it} from 'node:test'

import {assertNoSecret, canaryKey} from './support/canary.js'
import {S3_OBJECT, type SigV4Endpoint, startEndpoint} from './support/sigv4-endpoint.js'
import {runAs, sleep} from './support/user-sandbox.js'

const AWS = ['/usr/bin/python3', '-I', '/usr/bin/aws']
const key = canaryKey('SIG1')
const stranger = canaryKey('SIG2')

describe('SigV4 test endpoint with the real AWS CLI', () => {
  let endpoint: SigV4Endpoint
  let home: string

  const plain = `[default]\naws_access_key_id = ${key.accessKeyId}\naws_secret_access_key = ${key.secretAccessKey}\n`
  const aws = async (args: string[], credentials = plain) => {
    writeFileSync(`${home}/.aws/credentials`, credentials)
    return runAs(null, [...AWS, ...args, '--endpoint-url', endpoint.url], {
      env: {HOME: home, PATH: '/usr/bin:/bin', LANG: 'C.UTF-8'},
    })
  }

  before(async () => {
    endpoint = await startEndpoint({credentials: [key]})
    home = mkdtempSync('/tmp/av-e2e-sig-')
    mkdirSync(`${home}/.aws`)
    writeFileSync(`${home}/.aws/config`, '[default]\nregion = eu-west-1\noutput = json\n')
  })

  after(async () => {
    await endpoint.stop()
    rmSync(home, {force: true, recursive: true})
  })

  it('verifies sts get-caller-identity and answers the Account', async () => {
    endpoint.clear()
    const r = await aws(['sts', 'get-caller-identity'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(JSON.parse(r.stdout).Account, '123456789012')
    const [req] = endpoint.requests
    assert.equal(endpoint.requests.length, 1)
    assert.equal(req!.accessKeyId, key.accessKeyId)
    assert.equal(req!.service, 'sts')
    assert.equal(req!.region, 'eu-west-1')
    assert.equal(req!.operation, 'GetCallerIdentity')
    assert.equal(req!.verified, true, req!.failure ?? '')
    assertNoSecret({stderr: r.stderr, stdout: r.stdout}, [key.secretAccessKey])
  })

  it('verifies s3 ls (S3 path signing, x-amz-content-sha256) and lists the canary bucket', async () => {
    endpoint.clear()
    const r = await aws(['s3', 'ls'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^2026-01-02 \d\d:04:05 av-canary-bucket$/m)
    const [req] = endpoint.requests
    assert.equal(req!.service, 's3')
    assert.equal(req!.operation, 'ListBuckets')
    assert.equal(req!.verified, true, req!.failure ?? '')
    assert.ok(req!.headers['x-amz-content-sha256'])
  })

  it('verifies an S3 object path with characters S3 signs without double encoding', async () => {
    endpoint.clear()
    const r = await aws(['s3api', 'head-object', '--bucket', 'av-canary-bucket', '--key', 'dir one/a+b~c=d(1).txt'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(JSON.parse(r.stdout).ContentLength, Buffer.byteLength(S3_OBJECT))
    const [req] = endpoint.requests
    assert.equal(req!.method, 'HEAD')
    assert.equal(req!.path, '/av-canary-bucket/dir%20one/a%2Bb~c%3Dd%281%29.txt')
    assert.equal(req!.verified, true, req!.failure ?? '')
  })

  it('issues session credentials that then verify with their X-Amz-Security-Token', async () => {
    endpoint.clear()
    const session = await aws(['sts', 'get-session-token', '--duration-seconds', '900'])
    assert.equal(session.code, 0, session.stderr)
    const c = JSON.parse(session.stdout).Credentials
    assert.match(c.AccessKeyId, /^ASIAAVCANARY/)
    const r = await aws(
      ['sts', 'get-caller-identity'],
      `[default]\naws_access_key_id = ${c.AccessKeyId}\naws_secret_access_key = ${c.SecretAccessKey}\naws_session_token = ${c.SessionToken}\n`,
    )
    assert.equal(r.code, 0, r.stderr)
    const last = endpoint.requests.at(-1)!
    assert.equal(last.accessKeyId, c.AccessKeyId)
    assert.equal(last.hasSecurityToken, true)
    assert.equal(last.verified, true, last.failure ?? '')
  })

  it('rejects a wrong secret with SignatureDoesNotMatch and an unknown key with InvalidClientTokenId', async () => {
    endpoint.clear()
    const wrong = await aws(
      ['sts', 'get-caller-identity'],
      `[default]\naws_access_key_id = ${key.accessKeyId}\naws_secret_access_key = ${stranger.secretAccessKey}\n`,
    )
    assert.notEqual(wrong.code, 0)
    assert.match(wrong.stderr, /SignatureDoesNotMatch/)
    const unknown = await aws(
      ['s3', 'ls'],
      `[default]\naws_access_key_id = ${stranger.accessKeyId}\naws_secret_access_key = ${stranger.secretAccessKey}\n`,
    )
    assert.notEqual(unknown.code, 0)
    assert.match(unknown.stderr, /InvalidAccessKeyId/)
    assert.deepEqual(
      endpoint.requests.map((r) => [r.verified, r.failure]),
      [
        [false, 'signature does not match'],
        [false, 'unknown access key id'],
      ],
    )
  })

  it('holds a request open until released, keeping the CLI alive', async () => {
    endpoint.clear()
    endpoint.hold()
    const run = aws(['sts', 'get-caller-identity'])
    const req = await endpoint.waitForRequest((r) => r.operation === 'GetCallerIdentity')
    assert.equal(req.verified, true)
    await sleep(300)
    let finished = false
    run.then(
      () => {
        finished = true
      },
      () => {},
    )
    await sleep(50)
    assert.equal(finished, false)
    endpoint.release()
    const r = await run
    assert.equal(r.code, 0, r.stderr)
  })
})
