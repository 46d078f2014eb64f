import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {AvError, EXIT, formatError} from '../../../src/lib/core/errors.js'
import {isRefusalReason, REFUSAL_HINTS, REFUSAL_REASONS} from '../../../src/lib/core/refusal.js'
import {type CustodyCall, CustodyClientStore} from '../../../src/lib/custody/custody-client.js'

const ENTRY = '/opt/av/libexec/av-custody'
const INSTALL_HINT = /sudo av install` completed/

/** A custody client whose every call answers `answer` (what sudo and root printed). */
function clientAnswering(answer: CustodyCall): CustodyClientStore {
  return new CustodyClientStore(ENTRY, async () => answer)
}

async function failure(answer: CustodyCall): Promise<AvError> {
  try {
    await clientAnswering(answer).list()
  } catch (error) {
    assert.ok(error instanceof AvError, String(error))
    return error
  }

  throw new Error('the call did not fail')
}

describe('one "Try this:" line per refusal reason', () => {
  it(`the table holds exactly the ${REFUSAL_REASONS.length} reason codes, each with its own line`, () => {
    assert.deepEqual(Object.keys(REFUSAL_HINTS).sort(), [...REFUSAL_REASONS].sort())
    const lines = Object.values(REFUSAL_HINTS)
    assert.equal(new Set(lines).size, lines.length, 'two reasons share a line')
    for (const line of lines) {
      assert.match(line, /^[A-Z].{20,}[.\]>]$/)
      assert.doesNotMatch(line, INSTALL_HINT)
    }

    assert.equal(isRefusalReason('traced'), true)
    assert.equal(isRefusalReason('toString'), false)
  })

  for (const reason of REFUSAL_REASONS) {
    it(`root's refusal (${reason}) reaches the user with its own line, not the install hint`, async () => {
      const error = await failure({
        code: EXIT.refused,
        stderr: `av custody: refused (${reason}): what root saw.\n`,
        stdout: '',
      })
      assert.equal(error.code, 'refused')
      assert.equal(error.exit, EXIT.refused)
      assert.equal(error.message, `custody view refused (${reason}): what root saw`)
      assert.equal(error.suggestion, REFUSAL_HINTS[reason])
      assert.equal(formatError(error).split('\n')[1], `Try this: ${REFUSAL_HINTS[reason]}`)
    })
  }

  it("root's release refusal (the helper's own line, run as root) maps the same way", async () => {
    const error = await failure({
      code: 1,
      stderr: 'av credential-helper: refused (launcher-env-unsafe): NODE_OPTIONS is set. Start av without …\n',
      stdout: '',
    })
    assert.equal(error.suggestion, REFUSAL_HINTS['launcher-env-unsafe'])
  })

  const OTHER: Array<[string, CustodyCall, string, RegExp]> = [
    [
      'sudo would not run the entry point (no drop-in)',
      {code: 1, stderr: 'sudo: a password is required\n', stdout: ''},
      'store-unavailable',
      INSTALL_HINT,
    ],
    ['the entry point did not start at all', {code: 127, stderr: '', stdout: ''}, 'store-unavailable', INSTALL_HINT],
    [
      "root's own failure keeps its code and words",
      {
        code: 125,
        stderr: 'av custody: failed (conflict): a different key is stored for dev. Run av restore.\n',
        stdout: '',
      },
      'conflict',
      /^$/,
    ],
    [
      'an unknown reason from root is not dressed up as an install problem',
      {code: 126, stderr: 'av custody: refused (no-such-reason): ?\n', stdout: ''},
      'refused',
      /This is a bug in av/,
    ],
  ]
  for (const [name, answer, code, hint] of OTHER) {
    it(name, async () => {
      const error = await failure(answer)
      assert.equal(error.code, code)
      assert.match(error.suggestion ?? '', hint)
    })
  }
})
