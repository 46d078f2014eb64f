import assert from 'node:assert/strict'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'

import {DEFAULT_POLICY, type Policy} from '../../../src/lib/core/policy.js'
import {classifyArgv} from '../../../src/lib/gate/classify.js'
import {isElevated, isElevatedRun} from '../../../src/lib/gate/rules.js'
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

describe('isElevatedRun: the long-term key, unless an MFA session can do it', () => {
  type Run = [line: string, mfaSession: boolean, elevated: boolean]
  const cases: Run[] = [
    // IAM: the key without MFA, the MFA session with it (whatever category won the gate).
    ['aws iam list-users', false, true],
    ['aws iam list-users', true, false],
    ['aws iam create-access-key --user-name u', false, true],
    ['aws iam create-access-key --user-name u', true, false],
    ['aws iam get-account-password-policy --profile prod', true, false],
    // STS: an MFA session still cannot call these.
    ['aws sts get-session-token', false, true],
    ['aws sts get-session-token', true, true],
    ['aws sts decode-authorization-message --encoded-message x', true, true],
    ['aws sts get-federation-token --name n', true, true],
    // Session credentials can: never elevated.
    ['aws sts assume-role --role-arn arn:aws:iam::1:role/r --role-session-name s', false, false],
    ['aws sts get-caller-identity', true, false],
    ['aws s3 ls', false, false],
    ['aws secretsmanager get-secret-value --secret-id x', false, false],
  ]
  for (const [line, mfaSession, elevated] of cases) {
    it(`${line} ${mfaSession ? 'on an MFA session' : 'without MFA'} → ${elevated ? 'elevated' : 'session'}`, () => {
      const {decision} = run(line)
      assert.notEqual(decision.decision, 'deny')
      assert.equal(isElevatedRun(decision, {mfaSession}), elevated)
    })
  }

  it('an elevated decision that no rule explains stays elevated, MFA or not', () => {
    for (const mfaSession of [false, true]) {
      assert.equal(isElevatedRun({category: 'elevated', operation: null, service: 'iam'}, {mfaSession}), true)
    }

    assert.equal(isElevatedRun({category: 'credential', operation: null, service: null}, {mfaSession: false}), false)
  })
})
