// `aws help` inside the sealed environment: the real AWS CLI v2 renders the page through `less -R` on a real
// pseudo-terminal (util-linux `script`), and `!cmd` typed at the pager must not run a shell inside the run. The
// same keystrokes without LESSSECURE do run it: that is what the sealed environment has to prevent.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'

import {buildChildEnv} from '../../src/lib/aws/sealed-runtime.js'

const dir = mkdtempSync(path.join(tmpdir(), 'av-pager-'))
after(() => rmSync(dir, {force: true, recursive: true}))

/** Run `aws help` on a terminal with the sealed environment, type `!touch <marker>` at the pager, then quit. */
function helpWithShellEscape(name: string, edit: (env: Record<string, string>) => void): string {
  const home = path.join(dir, name)
  mkdirSync(home, {mode: 0o700})
  const marker = path.join(dir, `${name}.ran`)
  const env = buildChildEnv(
    {LANG: 'C.UTF-8', TERM: 'xterm'},
    {configFile: '/dev/null', home, profile: 'default', token: 'not-a-token'},
  )
  edit(env)
  // Keystrokes arrive after the page is up; `q` (sent a few times: a refused `!` leaves the rest of the line to be read as
  // less commands, `h` opens less's own help) quits, and `sleep` keeps the terminal open until then.
  const keys = `sleep 4; printf '!touch ${marker}\\n'; sleep 1; for q in 1 2 3 4 5; do printf '\\nq'; sleep 0.5; done`
  const r = spawnSync(
    '/bin/sh',
    ['-c', `(${keys}) | /usr/bin/script -qc "/usr/bin/python3 -I /usr/bin/aws help" /dev/null`],
    {encoding: 'utf8', env, timeout: 30_000},
  )
  assert.equal(r.error, undefined)
  assert.match(r.stdout, /aws/, 'the help page was shown')
  assert.doesNotMatch(r.stdout + r.stderr, /avCanarySecret|AKIAAVCANARY/)
  return marker
}

describe('aws help in the sealed environment', () => {
  it('the pager refuses `!cmd`: no shell runs inside the credentialed run', () => {
    const marker = helpWithShellEscape('sealed', () => {})
    assert.equal(existsSync(marker), false)
  })

  it('without LESSSECURE the same keystrokes do run a shell (the test can tell)', () => {
    const marker = helpWithShellEscape('open', (env) => {
      delete env.LESSSECURE
    })
    assert.equal(existsSync(marker), true)
  })
})
