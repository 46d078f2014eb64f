import assert from 'node:assert/strict'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'

import {classifyArgv} from '../../src/lib/gate/classify.js'
import {isElevated} from '../../src/lib/gate/rules.js'
import {DEFAULT_POLICY, type Policy} from '../../src/lib/policy.js'
import {GATE_TABLES, gateInputs, words} from './gate-cases.js'

const dir = mkdtempSync(path.join(tmpdir(), 'av-gate-'))
after(() => rmSync(dir, {force: true, recursive: true}))
const {env, home} = gateInputs(dir)

function run(line: string, policy: Policy = DEFAULT_POLICY, extraEnv: Record<string, string> = {}) {
  return classifyArgv(words(line), {env: {...env, ...extraEnv}, home, policy})
}

for (const {cases, name, policy} of GATE_TABLES) {
  describe(name, () => {
    for (const [line, decision, category] of cases) {
      it(`${line} → ${decision}${category === undefined ? '' : ` (${category})`}`, () => {
        const {decision: d} = run(line, policy)
        assert.equal(d.decision, decision, d.reason)
        if (category !== undefined) assert.equal(d.category, category, d.reason)
        assert.ok(d.reason.length > 0)
      })
    }
  })
}

describe('profile binding', () => {
  const cases: Array<[string, Record<string, string>, string]> = [
    ['aws s3 ls', {}, 'default'],
    ['aws s3 ls --profile prod', {}, 'prod'],
    ['aws --profile=prod s3 ls', {}, 'prod'],
    ['aws s3 ls --prof prod', {}, 'prod'],
    ['aws --profile a s3 ls --profile b', {}, 'b'],
    ['aws s3 ls', {AWS_PROFILE: 'envp'}, 'envp'],
    ['aws s3 ls', {AWS_DEFAULT_PROFILE: 'dflt'}, 'dflt'],
    ['aws s3 ls', {AWS_DEFAULT_PROFILE: 'dflt', AWS_PROFILE: 'envp'}, 'envp'],
    ['aws s3 ls --profile flag', {AWS_PROFILE: 'envp'}, 'flag'],
    ['aws s3api list-objects --bucket b --p x', {}, 'x'],
  ]
  for (const [line, extra, profile] of cases) {
    it(`${line} ${JSON.stringify(extra)} → ${profile}`, () => {
      assert.equal(run(line, DEFAULT_POLICY, extra).decision.profile, profile)
    })
  }
})

describe('user decisions', () => {
  it('the user config may tighten', () => {
    const r = classifyArgv(words('aws sts get-caller-identity'), {
      env,
      home,
      policy: DEFAULT_POLICY,
      userDecisions: {'sts get-caller-identity': 'approve'},
    })
    assert.equal(r.decision.decision, 'approve')
    assert.deepEqual(r.warnings, [])
  })

  it('the user config may not loosen: ignored with a warning', () => {
    const r = classifyArgv(words('aws s3 presign s3://b/k'), {
      env,
      home,
      policy: DEFAULT_POLICY,
      userDecisions: {'signed-url': 'allow'},
    })
    assert.equal(r.decision.decision, 'approve')
    assert.match(r.warnings.join('\n'), /signed-url.*only make decisions stricter/)
  })

  it('the user config makes low confidence rules approve', () => {
    const r = classifyArgv(words('aws kms generate-random --number-of-bytes 8'), {
      env,
      home,
      policy: DEFAULT_POLICY,
      userDecisions: {'confidence:low': 'approve'},
    })
    assert.equal(r.decision.decision, 'approve')
  })
})

describe('the decision carries what the launcher and the human need', () => {
  it('has rule, reason, service, operation and profile', () => {
    const d = run('aws --profile p ssm get-parameter --name db --with').decision
    assert.deepEqual(
      {...d, reason: undefined},
      {
        category: 'decrypted-secret',
        decision: 'approve',
        operation: 'get-parameter',
        profile: 'p',
        reason: undefined,
        rule: 'ssm get-parameter',
        service: 'ssm',
      },
    )
    assert.match(d.reason, /with-decryption/)
  })

  it('lists files the CLI will read', () => {
    const {parsed} = run('aws ssm put-parameter --name n --value file://~/secret.txt --type String')
    assert.deepEqual(parsed.files, [path.join(home, 'secret.txt')])
  })
})

describe('isElevated', () => {
  const cases: Array<[string[], boolean]> = [
    [['iam', 'list-users'], true],
    [['iam', 'create-access-key'], true],
    [['sts', 'get-session-token'], true],
    [['sts', 'get-federation-token'], true],
    [['sts', 'assume-role'], false],
    [['sts', 'get-caller-identity'], false],
    [['s3', 'ls'], false],
    [['iamx', 'list-users'], false],
  ]
  for (const [words, expected] of cases) {
    it(`${words.join(' ')} → ${expected}`, () => {
      assert.equal(isElevated(words), expected)
    })
  }
})
