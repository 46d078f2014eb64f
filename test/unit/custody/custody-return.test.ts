import assert from 'node:assert/strict'
import {mkdtempSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {describe, it} from 'node:test'

import type {ProcessSnapshot} from '../../../src/lib/core/process-table.js'

import {AvError} from '../../../src/lib/core/errors.js'
import {
  busCandidates,
  importItems,
  returnCustodyKeys,
  type ReturnWorld,
  unfinishedRotations,
} from '../../../src/lib/custody/custody-return.js'
import {accountFileName} from '../../../src/lib/store/custody-store.js'
import {MemoryStore} from '../../fakes/memory-store.js'
import {snap} from '../../fakes/process-world.js'

const item = (id: string, secret: string, extra: object = {}) =>
  JSON.stringify({v: 1, accessKeyId: id, secretAccessKey: secret, ...extra})

describe('custody return: the importer run as the user', () => {
  it('writes every item and reads it back; the same key already there takes custody’s record', async () => {
    const keychain = new MemoryStore()
    keychain.items.set('aws:dev', item('AKIADEV', 'avCanarySecret/dev'))
    const withRecord = item('AKIADEV', 'avCanarySecret/dev', {restore: {v: 1}})
    const answer = await importItems(keychain, {'aws:dev': withRecord, 'aws:prod': item('AKIAPROD', 's')})
    assert.deepEqual(answer, {returned: ['aws:dev', 'aws:prod']})
    assert.equal(keychain.items.get('aws:dev'), withRecord)
    assert.equal(keychain.items.get('aws:prod'), item('AKIAPROD', 's'))
  })

  it('a different key in the keychain refuses the whole import before anything is written', async () => {
    const keychain = new MemoryStore()
    keychain.items.set('aws:prod', item('AKIAOTHER', 'other'))
    await assert.rejects(
      importItems(keychain, {'aws:dev': item('AKIADEV', 'avCanarySecret/x'), 'aws:prod': item('AKIAPROD', 'y')}),
      (e: AvError) =>
        e.code === 'conflict' && /different keys for aws:prod/.test(e.message) && !e.message.includes('avCanary'),
    )
    assert.deepEqual([...keychain.items.keys()], ['aws:prod'])
  })

  it('refuses anything but durable items, and a keychain that cannot be used', async () => {
    await assert.rejects(importItems(new MemoryStore(), {'token-key': 'x'}), /not a durable key: token-key/)
    const locked = new MemoryStore()
    locked.unavailable = true
    await assert.rejects(
      importItems(locked, {'aws:dev': item('A', 'b')}),
      (e: AvError) => e.code === 'store-unavailable',
    )
  })
})

const UID = 1000
function world(
  over: Partial<ReturnWorld> & {procs: ProcessSnapshot[]; environs?: Record<number, Record<string, string>>},
) {
  const byPid = new Map(over.procs.map((p) => [p.pid, p]))
  return {
    env: {},
    exists: () => false,
    importer: '/opt/av/lib/av/dist/lib/main/keychain-import-main.js',
    pid: 90,
    pids: () => over.procs.map((p) => p.pid),
    table: {
      environ: (pid: number) => over.environs?.[pid] ?? null,
      snapshot: (pid: number) => byPid.get(pid) ?? null,
    },
    ...over,
  } satisfies ReturnWorld
}

describe('custody return: which session bus is the user’s', () => {
  const UNINSTALL = snap({pid: 90, ppid: 80, uid: 0})
  const SUDO = snap({pid: 80, ppid: 70, uid: 0})
  const SHELL = snap({pid: 70, ppid: 1, uid: UID})
  const OTHER = snap({pid: 60, ppid: 1, uid: UID})
  const STRANGER = snap({pid: 50, ppid: 1, uid: 1001})
  const environs = {
    50: {DBUS_SESSION_BUS_ADDRESS: 'unix:path=/tmp/stranger'},
    60: {DBUS_SESSION_BUS_ADDRESS: 'unix:path=/tmp/other-session'},
    70: {DBUS_SESSION_BUS_ADDRESS: 'unix:path=/tmp/shell-session'},
  }

  it('sudo -E from the user: its own bus, then the shell that ran sudo, /run/user, then other processes', () => {
    const w = world({
      env: {DBUS_SESSION_BUS_ADDRESS: 'unix:path=/tmp/sudo-e', SUDO_UID: String(UID)},
      environs,
      exists: (f) => f === `/run/user/${UID}/bus`,
      procs: [UNINSTALL, SUDO, SHELL, OTHER, STRANGER],
    })
    assert.deepEqual(busCandidates(UID, w), [
      'unix:path=/tmp/sudo-e',
      'unix:path=/tmp/shell-session',
      `unix:path=/run/user/${UID}/bus`,
      'unix:path=/tmp/other-session',
    ])
  })

  it('for another user (not the one who ran sudo) only that user’s own sessions count', () => {
    const w = world({
      env: {DBUS_SESSION_BUS_ADDRESS: 'unix:path=/tmp/sudo-e', SUDO_UID: '1001'},
      environs,
      procs: [UNINSTALL, SUDO, SHELL, OTHER, STRANGER],
    })
    assert.deepEqual(busCandidates(UID, w), ['unix:path=/tmp/shell-session', 'unix:path=/tmp/other-session'])
    assert.deepEqual(busCandidates(1002, w), [])
  })

  it('ignores addresses that are not a bus address', () => {
    const w = world({environs: {60: {DBUS_SESSION_BUS_ADDRESS: 'disabled:'}}, procs: [OTHER]})
    assert.deepEqual(busCandidates(UID, w), [])
  })
})

describe('custody return: an unfinished av rotate stops uninstall', () => {
  const cases: Array<[string, string[], string[]]> = [
    ['no journal', ['aws:dev', 'session:dev', 'audit-key'], []],
    ['one journal', ['aws:dev', 'rotate:dev'], ['dev']],
    ['two, sorted', ['rotate:prod', 'aws:dev', 'rotate:dev'], ['dev', 'prod']],
  ]
  for (const [name, accounts, expected] of cases) {
    it(`${name} → ${JSON.stringify(expected)}`, () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'av-return-'))
      try {
        for (const a of accounts) writeFileSync(path.join(dir, accountFileName(a)), '{}')
        writeFileSync(path.join(dir, 'audit.jsonl'), '')
        assert.deepEqual(unfinishedRotations(dir), expected)
        if (expected.length > 0) {
          const world = {} as ReturnWorld
          const base = mkdtempSync(path.join(tmpdir(), 'av-return-base-'))
          renameSync(dir, path.join(base, '1000'))
          assert.throws(
            () => returnCustodyKeys(base, world),
            (e: AvError) => e.code === 'refused' && /uid 1000: av rotate of .* is unfinished/.test(e.message),
          )
          rmSync(base, {force: true, recursive: true})
        }
      } finally {
        rmSync(dir, {force: true, recursive: true})
      }
    })
  }
})
