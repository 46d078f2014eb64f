import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import type {FileFacts, TrustFs} from '../../../src/lib/core/trust.js'
import type {ApprovalRequest} from '../../../src/lib/gate/types.js'

import {DEFAULT_POLICY} from '../../../src/lib/core/policy.js'
import {
  approvalRequestFor,
  type ApproverDeps,
  describeRequest,
  noChannelMessage,
  quoteCommand,
  realSpawn,
  requestApproval,
  type SpawnFn,
  type Tty,
} from '../../../src/lib/gate/approver.js'
import {classifyArgv} from '../../../src/lib/gate/classify.js'

const request: ApprovalRequest = {
  category: 'decrypted-secret',
  chain: [
    {name: 'bash', pid: 4242},
    {name: 'claude', pid: 4000},
  ],
  command: quoteCommand(['aws', 'secretsmanager', 'get-secret-value', '--secret-id', 'prod db']),
  endpoint: null,
  profile: 'prod',
  reason: 'returns the secret value',
  rule: 'secretsmanager get-secret-value',
}

interface Call {
  args: string[]
  file: string
  input?: string
}

function fakeSpawn(answer: {code: null | number; failed?: boolean; stdout?: string; timedOut?: boolean}) {
  const calls: Call[] = []
  const spawn: SpawnFn = async (file, args, options) => {
    calls.push({args, file, input: options.input})
    return {
      code: answer.code,
      failed: answer.failed ?? false,
      stdout: answer.stdout ?? '',
      timedOut: answer.timedOut ?? false,
    }
  }

  return {calls, spawn}
}

function fakeTty(answer: null | string) {
  const asked: string[] = []
  let closed = false
  const open = (): Tty => ({
    async ask(question) {
      asked.push(question)
      return answer
    },
    close() {
      closed = true
    },
  })
  return {asked, closed: () => closed, open}
}

const rootFs: TrustFs = {
  realpath: (p) => p,
  stat: (): FileFacts => ({gid: 0, mode: 0o100_755, uid: 0}),
}
const userFs: TrustFs = {
  realpath: (p) => p,
  stat: (p): FileFacts => ({gid: 0, mode: 0o100_755, uid: p === '/home/u/approve' ? 1000 : 0}),
}

function deps(extra: Partial<ApproverDeps>): ApproverDeps {
  return {
    approvers: ['gui', 'tty'],
    env: {},
    exists: () => false,
    openTty: () => null,
    platform: 'linux',
    spawn: fakeSpawn({code: 0}).spawn,
    trustFs: rootFs,
    ...extra,
  }
}

describe('approver chain', () => {
  const ttyCases: Array<[null | string, string]> = [
    ['y', 'approved'],
    ['yes', 'approved'],
    [' Y ', 'approved'],
    ['n', 'denied'],
    ['', 'denied'],
    ['approve', 'denied'],
    [null, 'denied'],
  ]
  for (const [typed, answer] of ttyCases) {
    it(`tty answer ${JSON.stringify(typed)} → ${answer}`, async () => {
      const tty = fakeTty(typed)
      assert.equal(await requestApproval(request, deps({openTty: tty.open})), answer)
      assert.equal(tty.closed(), true)
      assert.match(tty.asked[0]!, /aws secretsmanager get-secret-value --secret-id 'prod db'/)
      assert.match(tty.asked[0]!, /Profile: +prod/)
      assert.match(tty.asked[0]!, /decrypted-secret/)
      assert.match(tty.asked[0]!, /bash \(4242\) ← claude \(4000\)/)
    })
  }

  it('no display, no terminal → unavailable', async () => {
    assert.equal(await requestApproval(request, deps({})), 'unavailable')
  })

  it('a display without zenity or kdialog falls through to the terminal', async () => {
    const tty = fakeTty('y')
    assert.equal(await requestApproval(request, deps({env: {DISPLAY: ':0'}, openTty: tty.open})), 'approved')
  })

  const zenityCases: Array<[number | null, string]> = [
    [0, 'approved'],
    [1, 'denied'],
    [5, 'denied'],
    [null, 'denied'],
  ]
  for (const [code, answer] of zenityCases) {
    it(`zenity exit ${code} → ${answer}`, async () => {
      const fake = fakeSpawn({code})
      const d = deps({env: {DISPLAY: ':0'}, exists: (p) => p === '/usr/bin/zenity', spawn: fake.spawn})
      assert.equal(await requestApproval(request, d), answer)
      assert.equal(fake.calls[0]!.file, '/usr/bin/zenity')
      assert.ok(fake.calls[0]!.args.includes('--question'))
      assert.ok(fake.calls[0]!.args.some((a) => a.includes("--secret-id 'prod db'")))
      assert.ok(fake.calls[0]!.args.includes('--timeout=60'))
    })
  }

  it('kdialog when zenity is missing (Wayland)', async () => {
    const fake = fakeSpawn({code: 0})
    const d = deps({env: {WAYLAND_DISPLAY: 'wayland-0'}, exists: (p) => p === '/usr/bin/kdialog', spawn: fake.spawn})
    assert.equal(await requestApproval(request, d), 'approved')
    assert.equal(fake.calls[0]!.file, '/usr/bin/kdialog')
  })

  const macCases: Array<[string, string]> = [
    ['button returned:Approve, gave up:false\n', 'approved'],
    ['button returned:Deny, gave up:false\n', 'denied'],
    ['button returned:, gave up:true\n', 'denied'],
  ]
  for (const [stdout, answer] of macCases) {
    it(`osascript ${stdout.trim()} → ${answer}`, async () => {
      const fake = fakeSpawn({code: 0, stdout})
      const d = deps({exists: (p) => p === '/usr/bin/osascript', platform: 'darwin', spawn: fake.spawn})
      assert.equal(await requestApproval(request, d), answer)
      assert.equal(fake.calls[0]!.file, '/usr/bin/osascript')
      assert.match(fake.calls[0]!.args[1]!, /giving up after 60/)
    })
  }

  it('the policy program receives the request as JSON on stdin; exit 0 approves', async () => {
    const fake = fakeSpawn({code: 0})
    const d = deps({approvers: [{program: '/usr/local/libexec/approve'}], spawn: fake.spawn})
    assert.equal(await requestApproval(request, d), 'approved')
    assert.equal(fake.calls[0]!.file, '/usr/local/libexec/approve')
    assert.deepEqual(JSON.parse(fake.calls[0]!.input!), request)
  })

  it('the policy program exits non-zero → denied, and the chain stops there', async () => {
    const tty = fakeTty('y')
    const d = deps({approvers: [{program: '/p'}, 'tty'], openTty: tty.open, spawn: fakeSpawn({code: 3}).spawn})
    assert.equal(await requestApproval(request, d), 'denied')
    assert.equal(tty.asked.length, 0)
  })

  it('a user-owned program is never run', async () => {
    const fake = fakeSpawn({code: 0})
    const warnings: string[] = []
    const d = deps({
      approvers: [{program: '/home/u/approve'}],
      spawn: fake.spawn,
      trustFs: userFs,
      warn: (m) => warnings.push(m),
    })
    assert.equal(await requestApproval(request, d), 'unavailable')
    assert.equal(fake.calls.length, 0)
    assert.match(warnings[0]!, /uid 1000/)
  })

  it('a program that cannot start is unavailable, then the next channel answers', async () => {
    const tty = fakeTty('n')
    const d = deps({
      approvers: [{program: '/p'}, 'tty'],
      openTty: tty.open,
      spawn: fakeSpawn({code: null, failed: true}).spawn,
    })
    assert.equal(await requestApproval(request, d), 'denied')
  })
})

describe('approval messages', () => {
  it('describes the request', () => {
    const text = describeRequest({...request, endpoint: 'http://127.0.0.1:4566'})
    assert.match(text, /Endpoint: http:\/\/127\.0\.0\.1:4566/)
    assert.match(text, /rule: secretsmanager get-secret-value/)
  })

  it('tells the human how to run it themselves', () => {
    const {message, suggestion} = noChannelMessage(request)
    assert.match(message, /no approval channel/)
    assert.equal(
      suggestion,
      "run it yourself in a terminal: av run -- aws secretsmanager get-secret-value --secret-id 'prod db'",
    )
  })
})

describe('approval request from a gate decision', () => {
  const quoting: Array<[string[], string]> = [
    [['aws', 's3', 'ls'], 'aws s3 ls'],
    [['aws', 's3', 'cp', 'a b', 's3://x/y'], "aws s3 cp 'a b' s3://x/y"],
    [['aws', 'x', "it's"], String.raw`aws x 'it'\''s'`],
    [['aws', 'x', ''], "aws x ''"],
    [['aws', 'x', '$(rm -rf /)'], "aws x '$(rm -rf /)'"],
    [['aws', 'x', '--q=a;b'], "aws x '--q=a;b'"],
  ]
  for (const [argv, quoted] of quoting) {
    it(`quotes ${JSON.stringify(argv)}`, () => assert.equal(quoteCommand(argv), quoted))
  }

  it('carries the quoted command, profile, category, reason, rule, endpoint and chain', () => {
    const argv = ['--profile', 'prod', 's3', 'presign', 's3://my bucket/k', '--endpoint-url', 'https://s3.example.com']
    const {decision, parsed} = classifyArgv(argv, {env: {}, home: '/nonexistent', policy: DEFAULT_POLICY})
    const chain = [{name: 'bash', pid: 7}]
    assert.deepEqual(approvalRequestFor({argv, chain, decision, parsed}), {
      category: 'signed-url',
      chain,
      command: "aws --profile prod s3 presign 's3://my bucket/k' --endpoint-url https://s3.example.com",
      endpoint: 'https://s3.example.com',
      profile: 'prod',
      reason: decision.reason,
      rule: 's3 presign',
    })
  })
})

describe('real spawn seam', () => {
  it('feeds stdin and reports the exit code', async () => {
    const r = await realSpawn('/bin/sh', ['-c', 'read line; test "$line" = ok && echo fine'], {
      env: {},
      input: 'ok\n',
      timeoutMs: 10_000,
    })
    assert.deepEqual(r, {code: 0, failed: false, stdout: 'fine\n', timedOut: false})
  })

  it('kills after the timeout', async () => {
    const r = await realSpawn('/bin/sleep', ['5'], {env: {}, timeoutMs: 100})
    assert.equal(r.timedOut, true)
    assert.equal(r.code, null)
  })

  it('reports a program that does not exist', async () => {
    const r = await realSpawn('/nonexistent/approver', [], {env: {}, timeoutMs: 1000})
    assert.equal(r.failed, true)
  })
})
