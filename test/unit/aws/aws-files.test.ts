import assert from 'node:assert/strict'
import {
  chownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {describe, it} from 'node:test'

import {realAwsFileSystem as fs, MAX_AWS_FILE_BYTES, removeOrphanedTemps} from '../../../src/lib/aws/aws-files.js'
import {AvError} from '../../../src/lib/core/errors.js'

const root = mkdtempSync(path.join(tmpdir(), 'av-migrate-files-'))
process.on('exit', () => rmSync(root, {force: true, recursive: true}))
let n = 0
function home(): string {
  const dir = path.join(root, String(n++), '.aws')
  mkdirSync(dir, {recursive: true})
  return dir
}

describe('AWS files on disk', () => {
  it('a write replaces the file atomically, keeps its mode and owner, and leaves no temp file', async () => {
    const dir = home()
    const file = path.join(dir, 'credentials')
    writeFileSync(file, '[a]\n', {mode: 0o640})
    chownSync(file, 4242, 4343)
    const before = await fs.read(file, 'credentials')
    await fs.write(file, Buffer.from('[b]\n'), before)
    const stat = statSync(file)
    assert.deepEqual([stat.mode & 0o777, stat.uid, stat.gid], [0o640, 4242, 4343])
    assert.equal(readFileSync(file, 'utf8'), '[b]\n')
    assert.deepEqual(readdirSync(dir), ['credentials'])
  })

  it('a symlinked file is written at its target and stays a link', async () => {
    const dir = home()
    const dotfiles = path.join(dir, '..', 'dotfiles')
    mkdirSync(dotfiles)
    writeFileSync(path.join(dotfiles, 'aws-config'), '[default]\n', {mode: 0o600})
    const link = path.join(dir, 'config')
    symlinkSync('../dotfiles/aws-config', link)
    await fs.write(link, Buffer.from('[default]\nregion = x\n'), await fs.read(link, 'config'))
    assert.ok(lstatSync(link).isSymbolicLink())
    assert.equal(readlinkSync(link), '../dotfiles/aws-config')
    assert.equal(readFileSync(path.join(dotfiles, 'aws-config'), 'utf8'), '[default]\nregion = x\n')
    assert.deepEqual(readdirSync(dotfiles), ['aws-config'])
  })

  it('a missing file reads as null and is created 0600', async () => {
    const file = path.join(home(), 'sub', 'config')
    const snapshot = await fs.read(file, 'config')
    assert.equal(snapshot.bytes, null)
    await fs.write(file, Buffer.from('[default]\n'), snapshot)
    assert.equal(statSync(file).mode & 0o777, 0o600)
  })

  it('a 10 MB file is refused with its size, unread and unchanged', async () => {
    const file = path.join(home(), 'credentials')
    const big = Buffer.alloc(10 * 1024 * 1024, 'a')
    writeFileSync(file, big)
    await assert.rejects(fs.read(file, 'credentials'), (error: unknown) => {
      assert.ok(error instanceof AvError)
      assert.equal(
        error.message,
        `${file}: 10485760 bytes, more than av's limit of ${MAX_AWS_FILE_BYTES} bytes for an AWS file`,
      )
      return true
    })
    assert.ok(readFileSync(file).equals(big))
  })

  it('a directory where the file should be is refused', async () => {
    const file = path.join(home(), 'credentials')
    mkdirSync(file)
    await assert.rejects(fs.read(file, 'credentials'), /credentials: not a regular file/)
  })

  it('temp files of a killed writer are removed, those of a live one kept', async () => {
    const dir = home()
    const file = path.join(dir, 'credentials')
    writeFileSync(file, '')
    writeFileSync(path.join(dir, '.credentials.av-999999999-abcd.tmp'), 'avCanarySecret')
    writeFileSync(path.join(dir, `.credentials.av-${process.ppid}-abcd.tmp`), 'x')
    assert.equal(await removeOrphanedTemps(file), 1)
    assert.deepEqual(readdirSync(dir).sort(), [`.credentials.av-${process.ppid}-abcd.tmp`, 'credentials'])
  })
})
