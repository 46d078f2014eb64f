// The oracle fixture is the real CLI's reading: re-run the installed AWS CLI v2's own parsers over the tricky
// argvs and compare with the committed expectations that test/unit/gate-oracle.test.ts holds parse-argv.ts to.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {readFileSync} from 'node:fs'
import path from 'node:path'
import {describe, it} from 'node:test'
import {fileURLToPath} from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const fixtures = path.join(root, 'test', 'fixtures')

describe('gate oracle fixture', () => {
  it('matches what the installed AWS CLI v2 parses today', () => {
    const input = readFileSync(path.join(fixtures, 'gate-oracle-argvs.json'), 'utf8')
    const r = spawnSync('/usr/bin/python3', ['-I', path.join(root, 'scripts', 'gate-oracle.py')], {
      encoding: 'utf8',
      env: {HOME: '/nonexistent', PATH: '/usr/bin:/bin'},
      input,
      maxBuffer: 16 * 1024 * 1024,
    })
    assert.equal(r.status, 0, r.stderr)
    const expected = JSON.parse(readFileSync(path.join(fixtures, 'gate-oracle-expected.json'), 'utf8'))
    assert.deepEqual(JSON.parse(r.stdout), expected)
  })
})
