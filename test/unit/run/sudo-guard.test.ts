import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {EXIT} from '../../../src/lib/core/errors.js'
import {sudoRefusal, suggestRun} from '../../../src/lib/run/sudo-guard.js'

describe('sudo guard', () => {
  const cases: Array<[string, string, NodeJS.ProcessEnv, number, boolean]> = [
    ['migrate under sudo', 'migrate', {SUDO_USER: 'alice'}, 0, true],
    ['run under sudo', 'run', {SUDO_USER: 'alice'}, 0, true],
    ['restore under sudo', 'restore', {SUDO_USER: 'alice'}, 0, true],
    ['install under sudo is what it is for', 'install', {SUDO_USER: 'alice'}, 0, false],
    ['uninstall under sudo', 'uninstall', {SUDO_USER: 'alice'}, 0, false],
    ['gate test under sudo touches no user state', 'gate:test', {SUDO_USER: 'alice'}, 0, false],
    ['root logged in as root (no sudo)', 'migrate', {}, 0, false],
    ['sudo -u root from root', 'migrate', {SUDO_USER: 'root'}, 0, false],
    ['a plain user', 'migrate', {SUDO_USER: 'alice'}, 1000, false],
  ]
  for (const [name, id, env, uid, refused] of cases) {
    it(name, () => {
      const refusal = sudoRefusal(id, env, uid)
      assert.equal(refusal !== null, refused)
      if (refusal) {
        assert.equal(refusal.exit, EXIT.refused)
        assert.match(refusal.message, /root's keychain/)
        assert.match(refusal.suggestion ?? '', /Run it as alice, without sudo/)
      }
    })
  }
})

describe('did-you-mean for AWS words', () => {
  it('turns `av s3 ls` into av run', () => {
    assert.equal(suggestRun('s3', ['ls', 's3://b']), 'Did you mean `av run -- aws s3 ls s3://b`?')
  })

  it('drops a leading aws', () => {
    assert.equal(
      suggestRun('aws', ['sts', 'get-caller-identity']),
      'Did you mean `av run -- aws sts get-caller-identity`?',
    )
  })

  it('says nothing for words that are not AWS services', () => {
    assert.equal(suggestRun('migrat', []), null)
  })
})
