import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {asRefusal, AvError, EXIT, formatError, reasonOf, refusal, reportOf} from '../../../src/lib/core/errors.js'
import {REFUSAL_HINTS} from '../../../src/lib/core/refusal.js'

describe('one error type, refusals included', () => {
  it('a refusal carries its reason, exit 126 (usage: 2) and its reason line as what to do', () => {
    const no = refusal('traced', 'the AWS CLI is being traced')
    assert.deepEqual(
      [no.code, no.exit, no.reason, no.refusal, no.suggestion],
      ['refused', EXIT.refused, 'traced', true, REFUSAL_HINTS.traced],
    )
    const usage = refusal('usage', 'release needs --run <id>')
    assert.deepEqual([usage.code, usage.exit, usage.refusal], ['usage', EXIT.usage, true])
  })

  const REASONS: Array<[string, unknown, string]> = [
    ['a failure that names its reason', new AvError('bad-input', 'x', {reason: 'config-invalid'}), 'config-invalid'],
    ['a failure whose code is a reason', new AvError('store-unavailable', 'x'), 'store-unavailable'],
    ['a failure with neither', new AvError('conflict', 'x'), 'internal'],
    ['not an AvError', new Error('x'), 'internal'],
  ]
  for (const [what, error, reason] of REASONS) {
    it(`reasonOf: ${what} → ${reason}`, () => assert.equal(reasonOf(error, 'internal'), reason))
  }

  it('asRefusal keeps a refusal as it is and turns a failure into one, keeping its own hint', () => {
    const no = refusal('traced', 'traced')
    assert.equal(asRefusal(no, 'internal'), no)
    const turned = asRefusal(
      new AvError('not-found', 'no key', {reason: 'not-stored', suggestion: 'Run av migrate.'}),
      'internal',
    )
    assert.deepEqual(
      [turned.refusal, turned.reason, turned.message, turned.suggestion],
      [true, 'not-stored', 'no key', 'Run av migrate.'],
    )
    assert.equal(asRefusal(new Error('boom'), 'internal').suggestion, REFUSAL_HINTS.internal)
  })

  it('a failure that names a reason is still reported as a failure, not a refusal', () => {
    const failure = new AvError('bad-input', 'region x is not a region', {
      reason: 'config-invalid',
      suggestion: 'Set it.',
    })
    assert.equal(failure.refusal, false)
    assert.equal(formatError(failure), 'av: region x is not a region\nTry this: Set it.')
  })

  it('one formatter: a "Try this:" line, or one line for the root entry points and the helper', () => {
    const no = refusal('token-missing', 'no token\n in the environment.')
    assert.equal(
      formatError(no),
      `av: refused (token-missing): no token\n in the environment.\nTry this: ${REFUSAL_HINTS['token-missing']}`,
    )
    assert.equal(
      formatError(no, {oneLine: true, program: 'av credential-helper'}),
      `av credential-helper: refused (token-missing): no token in the environment. ${REFUSAL_HINTS['token-missing']}`,
    )
    assert.deepEqual(reportOf(new AvError('usage', 'bad flag')), {message: 'bad flag'})
    assert.equal(formatError(new TypeError('x is undefined')), 'av: internal error: x is undefined')
  })
})
