import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import type {ApproverSpec} from '../../../src/lib/core/policy.js'

import {AvError} from '../../../src/lib/core/errors.js'
import {type CodePromptDeps, type ProgramResult, requestCode} from '../../../src/lib/sessions/code-prompt.js'

const REQUEST = {mfaSerial: 'arn:aws:iam::1:mfa/dev', profile: 'dev', reason: 'MFA code for AWS profile dev'}

function deps(approvers: ApproverSpec[], answers: {program?: ProgramResult; tty?: null | string}, env = {}) {
  const ran: Array<{argv: string[]; env: NodeJS.ProcessEnv; input: string}> = []
  const prompts: string[] = []
  const d: CodePromptDeps = {
    approvers,
    askTty(prompt) {
      prompts.push(prompt)
      return answers.tty ?? null
    },
    env,
    exists: (file) => file === '/usr/bin/zenity',
    platform: 'linux',
    async run(argv, options) {
      ran.push({argv, ...options})
      return answers.program ?? {status: 0, stdout: '222333\n'}
    },
    trustFs: {
      realpath: (p) => p,
      // Root-owned and closed to others, except the user's own /home/u.
      stat: (p) => ({gid: 0, mode: 0o755, uid: p.startsWith('/home/u') ? 1000 : 0}),
    },
  }
  return {d, prompts, ran}
}

describe('MFA code prompt', () => {
  it('asks on /dev/tty when the policy lists tty', async () => {
    const {d, prompts} = deps(['tty'], {tty: '123456'})
    assert.equal(await requestCode(REQUEST, d), '123456')
    assert.deepEqual(prompts, ['av: MFA code for AWS profile dev (device arn:aws:iam::1:mfa/dev): '])
  })

  it('falls through an unavailable GUI and tty to the root-configured program, which gets JSON on stdin', async () => {
    const {d, ran} = deps(
      ['gui', 'tty', {program: '/opt/approve'}],
      {tty: null},
      {AWS_SECRET_ACCESS_KEY: 'avCanarySecret', HOME: '/h'},
    )
    assert.equal(await requestCode(REQUEST, d), '222333')
    assert.equal(ran.length, 1)
    assert.deepEqual(ran[0]!.argv, ['/opt/approve'])
    assert.deepEqual(JSON.parse(ran[0]!.input), {kind: 'mfa-code', ...REQUEST})
    assert.deepEqual(ran[0]!.env, {HOME: '/h', PATH: '/usr/bin:/bin'})
  })

  it('skips a program that is not root-owned', async () => {
    const {d, ran} = deps([{program: '/home/u/approve'}, 'tty'], {tty: '777888'})
    assert.equal(await requestCode(REQUEST, d), '777888')
    assert.deepEqual(ran, [])
  })

  it('uses zenity when there is a display', async () => {
    const {d, ran} = deps(['gui'], {program: {status: 0, stdout: '444555\n'}}, {DISPLAY: ':0'})
    assert.equal(await requestCode(REQUEST, d), '444555')
    assert.equal(ran[0]!.argv[0], '/usr/bin/zenity')
    assert.equal(ran[0]!.argv[1], '--entry')
  })

  it('a human who declines stops the chain', async () => {
    const {d, prompts} = deps([{program: '/opt/approve'}, 'tty'], {program: {status: 1, stdout: ''}, tty: '1'})
    await assert.rejects(requestCode(REQUEST, d), (e: unknown) => e instanceof AvError && e.code === 'denied')
    assert.deepEqual(prompts, [])
  })

  it('no channel is a refusal that says how to get one', async () => {
    const {d} = deps(['gui', 'tty'], {tty: null})
    await assert.rejects(requestCode(REQUEST, d), (e: unknown) => {
      assert.ok(e instanceof AvError)
      assert.equal(e.exit, 126)
      assert.match(e.message, /no approver channel can ask for it/)
      assert.match(e.suggestion!, /approver program in the root policy/)
      return true
    })
  })
})
