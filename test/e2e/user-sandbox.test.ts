/**
 * The sandbox every e2e attack test stands on: an unprivileged user with a private HOME and an unlocked
 * gnome-keyring reachable only inside its own D-Bus session.
 */
import assert from 'node:assert/strict'
import {existsSync, statSync} from 'node:fs'
import {after, before, describe, it} from 'node:test'

import {type KeyringSandbox, startKeyringSandbox} from './support/user-sandbox.js'

describe('user sandbox (unprivileged test user, keyring session)', () => {
  let sandbox: KeyringSandbox

  before(async () => {
    sandbox = await startKeyringSandbox()
  })

  after(async () => {
    await sandbox?.stop()
  })

  it('runs commands as an unprivileged user with a private HOME', async () => {
    const r = await sandbox.sh('id -u; echo "$HOME"')
    assert.equal(r.code, 0, r.stderr)
    const [uid, home] = r.stdout.trim().split('\n')
    assert.notEqual(Number(uid), 0)
    assert.equal(Number(uid), sandbox.user.uid)
    assert.equal(home, sandbox.home)
    const s = statSync(sandbox.home)
    assert.equal(s.uid, sandbox.user.uid)
    assert.equal(s.mode & 0o777, 0o700)
  })

  it('has an unlocked Secret Service in its session, and none outside it', async () => {
    const stored = await sandbox.sh(
      'printf %s av-e2e-value | secret-tool store --label=av-e2e service av-e2e account a',
    )
    assert.equal(stored.code, 0, stored.stderr)
    const inside = await sandbox.run(['secret-tool', 'lookup', 'service', 'av-e2e', 'account', 'a'])
    assert.equal(inside.stdout, 'av-e2e-value')
    const outside = await sandbox.run(['secret-tool', 'lookup', 'service', 'av-e2e', 'account', 'a'], {
      env: {DBUS_SESSION_BUS_ADDRESS: undefined},
    })
    assert.notEqual(outside.code, 0)
    assert.equal(outside.stdout, '')
  })

  it('removes its files and processes when stopped', async () => {
    const other = await startKeyringSandbox(sandbox.user)
    await other.stop()
    assert.equal(existsSync(other.base), false)
    const left = await sandbox.sh(
      `grep -l "XDG_RUNTIME_DIR=${other.runtimeDir}" /proc/[0-9]*/environ 2>/dev/null || true`,
    )
    assert.equal(left.stdout.trim(), '')
  })
})
