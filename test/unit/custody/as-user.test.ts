/**
 * Root reads files the user names with the user's rights: what the user could not open, root does not read for
 * them, through a symlink, a group root belongs to, or a directory in the way. Needs root (it switches ids).
 */
import assert from 'node:assert/strict'
import {chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'

import {readAllAsUser, readAsUser} from '../../../src/lib/custody/as-user.js'

const NOBODY = {gid: 65_534, uid: 65_534}
const skip = process.getuid?.() !== 0 && 'needs root (it switches to another uid)'

describe('reading as the user', {skip}, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'av-as-user-'))
  chmodSync(dir, 0o755)

  after(() => rmSync(dir, {force: true, recursive: true}))

  const ROOT = {gid: 0, uid: 0}
  const file = (name: string, text: string, mode: number, owner = ROOT) => {
    const p = path.join(dir, name)
    writeFileSync(p, text)
    chownSync(p, owner.uid, owner.gid)
    chmodSync(p, mode)
    return p
  }

  it("reads what the user may read; refuses root's files, a root group's file, a symlink to either, a directory", () => {
    const own = file('own', 'mine', 0o600, NOBODY)
    const rootOnly = file('root-only', 'root secret', 0o600)
    const rootGroup = file('root-group', 'group secret', 0o640)
    const link = path.join(dir, 'link')
    symlinkSync(rootOnly, link)
    const sub = path.join(dir, 'sub')
    mkdirSync(sub)
    const files = [own, rootOnly, rootGroup, link, sub, path.join(dir, 'missing'), own]
    const read = readAllAsUser(NOBODY.uid, NOBODY.gid, files)
    assert.deepEqual(
      read.map((r) => (r instanceof Error ? ((r as NodeJS.ErrnoException).code ?? 'not-a-file') : r.toString())),
      ['mine', 'EACCES', 'EACCES', 'EACCES', 'not-a-file', 'ENOENT', 'mine'],
    )
    assert.equal(readAsUser(NOBODY.uid, NOBODY.gid, own).toString(), 'mine')
    assert.throws(() => readAsUser(NOBODY.uid, NOBODY.gid, rootGroup), {code: 'EACCES'})
    // Root's rights are back afterwards.
    assert.equal(process.geteuid?.(), 0)
    assert.equal(process.getegid?.(), 0)
  })
})
