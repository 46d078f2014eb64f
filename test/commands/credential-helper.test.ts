import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'

import {keychainPolicyFile} from '../fakes/keychain-policy.js'

// Runs the built bin/run.js (npm run build first) the way an agent would call the helper directly.
const RUN_JS = path.resolve('bin/run.js')
const CANARY_SECRET = 'avCanarySecret/commands+helper00000000000'
const home = mkdtempSync(path.join(tmpdir(), 'av-helper-cmd-'))
const POLICY = keychainPolicyFile()

function helper(token: string | undefined, args = ['--profile', 'x']) {
  const env: NodeJS.ProcessEnv = {
    AWS_ACCESS_KEY_ID: 'AKIAAVCANARY0000CMDS',
    AWS_SECRET_ACCESS_KEY: CANARY_SECRET,
    HOME: home,
    PATH: process.env.PATH,
    // Keychain mode, whatever the machine has installed.
    AV_POLICY: POLICY,
  }
  if (token !== undefined) env.AV_RUN_TOKEN = token
  const result = spawnSync(process.execPath, [RUN_JS, 'credential-helper', 'aws', ...args], {encoding: 'utf8', env})
  return {code: result.status, stderr: result.stderr, stdout: result.stdout}
}

describe('bin/run.js credential-helper aws, called directly', () => {
  after(() => rmSync(home, {force: true, recursive: true}))

  const cases: Array<[string, string | undefined, string]> = [
    ['no token', undefined, 'token-missing'],
    ['an empty token', '', 'token-missing'],
    ['a garbage token', 'garbage', 'token-malformed'],
    ['a huge token', `v1.${'A'.repeat(100_000)}.${'A'.repeat(43)}`, 'token-malformed'],
    ['the canary secret as a token', CANARY_SECRET, 'token-malformed'],
  ]
  for (const [name, token, reason] of cases) {
    it(`${name}: exit 1, one refusal line naming ${reason}, empty stdout, no canary`, () => {
      const out = helper(token)
      assert.equal(out.code, 1)
      assert.equal(out.stdout, '')
      assert.match(
        out.stderr,
        new RegExp(`^av credential-helper: refused \\(${reason}\\): [^\\n]+av run -- aws[^\\n]+\\n$`),
      )
      assert.ok(!out.stderr.includes(CANARY_SECRET))
    })
  }

  it('records each refusal in the audit log, without the canary or the token', () => {
    const file = path.join(home, '.local', 'state', 'av', 'audit.jsonl')
    helper('garbage-token-for-audit')
    assert.ok(existsSync(file))
    const text = readFileSync(file, 'utf8')
    const last = JSON.parse(text.trim().split('\n').at(-1)!)
    assert.deepEqual([last.event, last.reason, last.profile], ['refusal', 'token-malformed', 'x'])
    assert.ok(!text.includes(CANARY_SECRET) && !text.includes('garbage-token-for-audit'))
  })

  it('refuses bad usage with exit 2', () => {
    const out = helper(undefined, ['--profile'])
    assert.equal(out.code, 2)
    assert.equal(out.stdout, '')
    assert.match(out.stderr, /refused \(usage\)/)
  })
})
