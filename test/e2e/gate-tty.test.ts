// The /dev/tty approver on a real pseudo-terminal (util-linux `script`), and with no controlling terminal at all
// (`setsid`): the answer comes from the terminal, never from stdin. Needs `npm run build`.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {fileURLToPath} from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const dir = mkdtempSync(path.join(tmpdir(), 'av-gate-tty-'))
after(() => rmSync(dir, {force: true, recursive: true}))
const program = path.join(dir, 'ask.mjs')
writeFileSync(
  program,
  `const {requestApproval} = await import(${JSON.stringify(path.join(root, 'dist', 'lib', 'gate', 'approver.js'))})
const request = {category: 'token', chain: [{name: 'agent', pid: 1}], command: 'aws eks get-token --cluster-name c', endpoint: null, profile: 'default', reason: 'prints a token', rule: 'eks get-token'}
const answer = await requestApproval(request, {approvers: ['tty'], env: {}, platform: 'linux', timeoutMs: Number(process.argv[2])})
console.log('ANSWER=' + answer)
`,
)

function run(command: string, args: string[], input: string) {
  return spawnSync(command, args, {encoding: 'utf8', input, timeout: 20_000})
}

describe('tty approver on a real terminal', () => {
  it('a "y" typed on the terminal approves', () => {
    const r = run('/usr/bin/script', ['-qc', `${process.execPath} ${program} 10000`, '/dev/null'], 'y\n')
    assert.match(r.stdout, /aws eks get-token --cluster-name c/)
    assert.match(r.stdout, /ANSWER=approved/)
  })

  it('no answer before the timeout denies', () => {
    const r = run('/bin/sh', ['-c', `sleep 3 | /usr/bin/script -qc "${process.execPath} ${program} 500" /dev/null`], '')
    assert.match(r.stdout, /no answer: denied/)
    assert.match(r.stdout, /ANSWER=denied/)
  })

  it('without a controlling terminal the channel is unavailable, and stdin is never read', () => {
    const r = run('/usr/bin/setsid', [process.execPath, program, '500'], 'y\n')
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /ANSWER=unavailable/)
  })
})
