/* eslint-disable camelcase -- AWS config keys are snake_case */
/**
 * The real @aws-sdk/client-sts against the local SigV4-verifying STS: GetSessionToken is signed with the durable
 * canary, AssumeRole with the session it returned, and endpoint settings an agent controls (AWS_ENDPOINT_URL*,
 * endpoint_url in ~/.aws/config) never receive a request.
 */
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:http'
import {type AddressInfo} from 'node:net'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'

import type {SessionDeps} from '../../src/lib/sessions/session-types.js'

import {sdkSts} from '../../src/lib/aws/sts-client.js'
import {AvError} from '../../src/lib/core/errors.js'
import {DEFAULT_POLICY} from '../../src/lib/core/policy.js'
import {credentialProcessDocument, getSessionCredentials} from '../../src/lib/sessions/sessions.js'
import {encodeKeyPair, profileAccount} from '../../src/lib/store/credentials.js'
import {MemoryStore} from '../fakes/memory-store.js'
import {type SigV4Endpoint, startEndpoint} from './support/sigv4-endpoint.js'

const DURABLE = {accessKeyId: 'AKIAAVCANARY00000007', secretAccessKey: 'avCanarySecret/sdk/00000000000000000007'}

/** A server that records requests and answers 500: proves nothing reached an endpoint the user named. */
async function startTrap(): Promise<{close(): Promise<void>; hits: string[]; url: string}> {
  const hits: string[] = []
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`)
    res.writeHead(500).end()
  })
  await new Promise<void>((resolve) => {
    server.listen(0, '127.0.0.1', resolve)
  })
  const {port} = server.address() as AddressInfo
  return {
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
      })
    },
    hits,
    url: `http://127.0.0.1:${port}`,
  }
}

function params(body: string): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(body))
}

describe('real STS client against the local STS endpoint', () => {
  let sts: SigV4Endpoint
  let trap: Awaited<ReturnType<typeof startTrap>>
  let home: string
  const saved = {...process.env}

  before(async () => {
    sts = await startEndpoint({credentials: [DURABLE], sessionSecretPrefix: 'avCanarySessionSecret'})
    trap = await startTrap()
    home = mkdtempSync(path.join(tmpdir(), 'av-sts-sdk-'))
    const config = path.join(home, 'config')
    writeFileSync(
      config,
      `[profile dev]\nendpoint_url = ${trap.url}\nregion = eu-west-1\n` +
        `[default]\nendpoint_url = ${trap.url}\nservices = evil\n[services evil]\nsts =\n  endpoint_url = ${trap.url}\n`,
    )
    // What an agent controls: the environment and ~/.aws/config. None of it may steer av's STS calls.
    Object.assign(process.env, {
      AWS_CONFIG_FILE: config,
      AWS_ENDPOINT_URL: trap.url,
      AWS_ENDPOINT_URL_STS: trap.url,
      AWS_PROFILE: 'dev',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      HOME: home,
    })
  })

  after(async () => {
    process.env = saved
    await sts.stop()
    await trap.close()
    rmSync(home, {force: true, recursive: true})
  })

  function deps(store: MemoryStore, profiles: SessionDeps['profiles']): SessionDeps {
    return {
      clock: {now: () => Date.now()},
      policy: {...DEFAULT_POLICY, sts: {endpoint: sts.url}},
      profiles,
      sts: async () => sdkSts,
      store,
    }
  }

  it('GetSessionToken verified against the durable canary, then AssumeRole signed with the session', async () => {
    const store = new MemoryStore()
    store.items.set(profileAccount('dev'), encodeKeyPair(DURABLE))
    const profiles = {
      admin: {role_arn: 'arn:aws:iam::123456789012:role/admin', source_profile: 'dev', external_id: 'x-1'},
      dev: {endpoint_url: trap.url, region: 'eu-west-1'},
    }
    const session = await getSessionCredentials('dev', deps(store, profiles))
    assert.equal(session.kind, 'session')
    assert.match(session.accessKeyId, /^ASIAAVCANARY[\dA-F]{8}$/)
    assert.ok(session.expiration! - Date.now() > 59 * 60 * 1000)
    const role = await getSessionCredentials('admin', deps(store, profiles))
    assert.equal(role.kind, 'role')
    assert.notEqual(role.accessKeyId, session.accessKeyId)

    assert.deepEqual(
      sts.requests.map((r) => [r.operation, r.accessKeyId, r.verified, r.hasSecurityToken, r.region]),
      [
        ['GetSessionToken', DURABLE.accessKeyId, true, false, 'eu-west-1'],
        ['AssumeRole', session.accessKeyId, true, true, 'us-east-1'],
      ],
    )
    assert.equal(params(sts.requests[0]!.body).DurationSeconds, '3600')
    assert.equal(params(sts.requests[1]!.body).ExternalId, 'x-1')
    assert.deepEqual(trap.hits, [])
    const doc = JSON.stringify(credentialProcessDocument(role))
    assert.ok(!doc.includes('avCanarySecret'))
  })

  it('a key the endpoint rejects maps to a clear message', async () => {
    const store = new MemoryStore()
    store.items.set(
      profileAccount('bad'),
      encodeKeyPair({...DURABLE, secretAccessKey: 'avCanarySecret/wrong/000000000000000000'}),
    )
    await assert.rejects(getSessionCredentials('bad', deps(store, {bad: {}})), (error: unknown) => {
      assert.ok(error instanceof AvError)
      assert.match(error.message, /does not match its access key id \(SignatureDoesNotMatch\)/)
      assert.ok(!error.message.includes('avCanarySecret'))
      return true
    })
    assert.deepEqual(trap.hits, [])
  })

  it('throttling is retried and then reported as throttling', async () => {
    const store = new MemoryStore()
    store.items.set(profileAccount('dev'), encodeKeyPair(DURABLE))
    sts.failWith = 'Throttling'
    const before = sts.requests.length
    try {
      await assert.rejects(
        getSessionCredentials('dev', deps(store, {dev: {}})),
        /AWS throttled the request \(Throttling\)/,
      )
    } finally {
      sts.failWith = null
    }

    assert.equal(sts.requests.length - before, 3)
  })

  it('an unreachable endpoint is a network error, not a hang', async () => {
    const store = new MemoryStore()
    store.items.set(profileAccount('dev'), encodeKeyPair(DURABLE))
    const d = deps(store, {dev: {}})
    d.policy = {...d.policy, sts: {endpoint: 'http://127.0.0.1:9'}}
    await assert.rejects(
      getSessionCredentials('dev', d),
      /http:\/\/127\.0\.0\.1:9 could not be reached \(ECONNREFUSED\)/,
    )
  })
})
