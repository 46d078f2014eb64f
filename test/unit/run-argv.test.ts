import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {AvError, EXIT, exitCodeOf, formatError} from '../../src/lib/errors.js'
import {classifyInterim} from '../../src/lib/gate/interim.js'
import {terminalSignalReachesGroup} from '../../src/lib/launcher.js'
import {DEFAULT_POLICY} from '../../src/lib/policy.js'
import {isPlainAbsolute, splitRunArgv} from '../../src/lib/run-main.js'

describe('splitRunArgv', () => {
  const ok: Array<[string[], string[]]> = [
    [
      ['--', 'aws', 's3', 'ls'],
      ['aws', 's3', 'ls'],
    ],
    [
      ['--', 'aws', 's3', 'ls', '--', 'x'],
      ['aws', 's3', 'ls', '--', 'x'],
    ],
    [
      ['--', 'aws', '--profile', 'a', 's3', 'ls', '--profile', 'b'],
      ['aws', '--profile', 'a', 's3', 'ls', '--profile', 'b'],
    ],
    [
      ['--', 'aws', '--', '--'],
      ['aws', '--', '--'],
    ],
    [['--'], []],
  ]
  for (const [args, command] of ok) {
    it(`av run ${args.join(' ')}`, () => assert.deepEqual(splitRunArgv(args), {command}))
  }

  it('answers --help before the separator', () => assert.deepEqual(splitRunArgv(['--help']), {help: true}))

  const bad: Array<[string[], RegExp]> = [
    [['aws', 's3', 'ls'], /av run -- aws s3 ls/],
    [['aws', 's3', '--', 'ls'], /av run -- aws s3 ls/],
    [['--verbose', '--', 'aws'], /av run -- aws <service>/],
    [[], /av run -- aws <service>/],
  ]
  for (const [args, suggestion] of bad) {
    it(`refuses av run ${args.join(' ')} as usage`, () => {
      assert.throws(
        () => splitRunArgv(args),
        (error: AvError) => error.exit === EXIT.usage && suggestion.test(error.suggestion ?? ''),
      )
    })
  }
})

describe('isPlainAbsolute (when the launcher starts itself again by its absolute path)', () => {
  const cases: Array<[string | undefined, boolean]> = [
    ['/opt/av/lib/av/bin/run.js', true],
    ['bin/run.js', false],
    ['./bin/run.js', false],
    ['/opt/av/../av/bin/run.js', false],
    ['/opt//av/bin/run.js', false],
    ['/opt/./av/bin/run.js', false],
    [undefined, false],
  ]
  for (const [file, expected] of cases) {
    it(`${String(file)} → ${expected}`, () => assert.equal(isPlainAbsolute(file), expected))
  }
})

describe('exit codes', () => {
  const cases: Array<[unknown, number]> = [
    [new AvError('runtime-not-found', 'x'), 127],
    [new AvError('runtime-untrusted', 'x'), 126],
    [new AvError('denied', 'x'), 126],
    [new AvError('refused', 'x'), 126],
    [new AvError('store-unavailable', 'x'), 125],
    [new AvError('usage', 'x'), 2],
    [new Error('boom'), 125],
  ]
  for (const [error, code] of cases) {
    it(`${formatError(error).split('\n')[0]} → ${code}`, () => assert.equal(exitCodeOf(error), code))
  }
})

describe('interim gate', () => {
  const env = {AWS_PROFILE: 'envp'}
  const cases: Array<[string, string, string, NodeJS.ProcessEnv?]> = [
    ['s3 ls', 'allow', 'envp'],
    ['sts get-caller-identity --profile a --profile b', 'allow', 'b'],
    ['--profile=x sts get-caller-identity', 'allow', 'x'],
    ['s3 ls', 'allow', 'd', {AWS_DEFAULT_PROFILE: 'd'}],
    ['s3 ls', 'allow', 'default', {}],
    ['sts get-session-token', 'approve', 'envp'],
    ['sts assume-role --role-arn x', 'approve', 'envp'],
    ['configure list', 'approve', 'envp'],
    ['configure export-credentials', 'approve', 'envp'],
    ['iam list-users', 'approve', 'envp'],
    ['s3 ls --debug', 'approve', 'envp'],
    ['s3 ls --deb', 'approve', 'envp'],
    ['s3 ls --endpoint-url http://evil.example', 'approve', 'envp'],
    ['s3 ls --endpoint-url=http://127.0.0.1:9000', 'allow', 'envp'],
    ['s3 ls --no-verify-ssl', 'approve', 'envp'],
    ['s3 ls --profile', 'approve', 'envp'],
  ]
  const policy = {...DEFAULT_POLICY, endpoints: ['http://127.0.0.1:*']}
  for (const [line, decision, profile, e] of cases) {
    it(`${line} → ${decision} as ${profile}`, () => {
      const result = classifyInterim(line.split(' '), {env: e ?? env, home: '/home/u', policy})
      assert.equal(result.decision.decision, decision)
      assert.equal(result.decision.profile, profile)
    })
  }
})

/** /proc/<pid>/stat text (a comm with spaces and parentheses, as a process may name itself). */
const stat = (pgrp: number, tpgid: number) => `4242 (node (x) y) S 4000 ${pgrp} 4000 34816 ${tpgid} 4194304 1 2 3`

describe('terminalSignalReachesGroup', () => {
  const cases: Array<[NodeJS.Signals, null | string, boolean]> = [
    ['SIGINT', stat(4100, 4100), true],
    ['SIGQUIT', stat(4100, 4100), true],
    ['SIGINT', stat(4100, 4200), false],
    ['SIGINT', stat(4100, -1), false],
    ['SIGTERM', stat(4100, 4100), false],
    ['SIGHUP', stat(4100, 4100), false],
    ['SIGINT', null, false],
  ]
  for (const [signal, text, expected] of cases) {
    it(`${signal} ${text === null ? 'without /proc' : text.split(' ').slice(5, 10).join(' ')} → ${expected}`, () => {
      assert.equal(terminalSignalReachesGroup(signal, text), expected)
    })
  }
})
