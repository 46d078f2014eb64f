import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {describe, it} from 'node:test'

import {AvError, EXIT, exitCodeOf, formatError} from '../../../src/lib/core/errors.js'
import {DEFAULT_POLICY} from '../../../src/lib/core/policy.js'
import {terminalSignalReachesGroup} from '../../../src/lib/core/relay.js'
import {classifyArgv} from '../../../src/lib/gate/classify.js'
import {isPlainAbsolute, splitRunArgv} from '../../../src/lib/main/run-main.js'
import {MAX_PINNED_INPUT, pinInputFile} from '../../../src/lib/run/launcher.js'

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

describe('the gate as av run binds the profile', () => {
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
    ['s3 ls --debug', 'approve', 'envp'],
    ['s3 ls --deb', 'approve', 'envp'],
    ['s3 ls --endpoint-url http://evil.example', 'approve', 'envp'],
    ['s3 ls --endpoint-url=http://127.0.0.1:9000', 'allow', 'envp'],
    ['s3 ls --endpoint-url=http://127.0.0.1:1@127.0.0.2:9000', 'approve', 'envp'],
    ['s3 ls --endpoint http://127.0.0.2:9000', 'approve', 'envp'],
    ['s3 ls --no-verify-ssl', 'approve', 'envp'],
    ['s3 ls --profile', 'approve', 'envp'],
  ]
  const policy = {...DEFAULT_POLICY, endpoints: ['http://127.0.0.1:*']}
  for (const [line, decision, profile, e] of cases) {
    it(`${line} → ${decision} as ${profile}`, () => {
      const result = classifyArgv(line.split(' '), {env: e ?? env, home: '/home/u', policy})
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

describe('pinInputFile: the CLI gets the --cli-input-* text the gate classified', () => {
  const inputFile = {raw: 'file://in.json', text: '{"Name": "x", "WithDecryption": false}'}
  const cases: Array<[string, string[], string[]]> = [
    [
      'separate value',
      ['ssm', 'get-parameter', '--cli-input-json', 'file://in.json'],
      ['ssm', 'get-parameter', '--cli-input-json', inputFile.text],
    ],
    [
      '= form',
      ['ssm', 'get-parameter', '--cli-input-json=file://in.json'],
      ['ssm', 'get-parameter', `--cli-input-json=${inputFile.text}`],
    ],
    [
      'abbreviated option',
      ['ssm', 'get-parameter', '--cli-input-j', 'file://in.json'],
      ['ssm', 'get-parameter', '--cli-input-j', inputFile.text],
    ],
    [
      'other words untouched',
      ['ssm', 'get-parameter', '--name', 'file://other.json'],
      ['ssm', 'get-parameter', '--name', 'file://other.json'],
    ],
  ]
  for (const [name, args, expected] of cases) {
    it(name, () => assert.deepEqual(pinInputFile(args, inputFile), expected))
  }

  it('leaves argv alone when no input file was read', () => {
    const args = ['s3', 'ls']
    assert.equal(pinInputFile(args, null), args)
  })

  it('refuses a text too large for one argument', () => {
    assert.throws(
      () => pinInputFile(['x', 'file://big'], {raw: 'file://big', text: 'x'.repeat(MAX_PINNED_INPUT + 1)}),
      /larger than 100 KiB/,
    )
  })

  it('is what av run hands the CLI after a real classification, even if the file changes afterwards', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'av-pin-'))
    const file = path.join(dir, 'in.json')
    writeFileSync(file, '{"Name": "x"}')
    const argv = ['ssm', 'get-parameter', '--cli-input-json', `file://${file}`]
    const {decision, parsed} = classifyArgv(argv, {env: {}, home: dir, policy: DEFAULT_POLICY})
    assert.equal(decision.decision, 'allow')
    writeFileSync(file, '{"Name": "x", "WithDecryption": true}') // the swap an agent would try
    assert.deepEqual(pinInputFile(argv, parsed.inputFile), [
      'ssm',
      'get-parameter',
      '--cli-input-json',
      '{"Name": "x"}',
    ])
    rmSync(dir, {force: true, recursive: true})
  })
})
