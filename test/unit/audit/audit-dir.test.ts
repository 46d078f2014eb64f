import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {auditDir, type AuditDirInput} from '../../../src/lib/core/paths.js'
import {dir, factsFs} from '../../fakes/trust-fs.js'

/** The account database: uid → home. */
const HOMES: Record<number, string> = {0: '/root', 1000: '/home/u', 1001: ''}
const FS = factsFs({
  '/': dir(0),
  '/home': dir(0),
  '/home/u': dir(1000, 0o700),
  '/root': dir(0, 0o700),
  '/tmp': dir(0, 0o1777),
  '/tmp/av-cmd-1': dir(0, 0o700),
  '/tmp/user-made': dir(1000, 0o700),
  '/tmp/open': dir(0, 0o777),
})
const deps = {fs: FS, home: (uid: number) => HOMES[uid] ?? ''}
const EVIL = {HOME: '/tmp/user-made', XDG_STATE_HOME: '/tmp/user-made/state'}

describe('auditDir: the account database decides, not the environment', () => {
  const cases: Array<[string, AuditDirInput, string]> = [
    [
      'a user, clean environment',
      {env: {HOME: '/home/u'}, euid: 1000, platform: 'linux', uid: 1000},
      '/home/u/.local/state/av',
    ],
    [
      'a user with a foreign HOME and XDG_STATE_HOME (an agent moving the trail)',
      {env: EVIL, euid: 1000, platform: 'linux', uid: 1000},
      '/home/u/.local/state/av',
    ],
    ['a user without HOME at all', {env: {}, euid: 1000, platform: 'linux', uid: 1000}, '/home/u/.local/state/av'],
    ['a user on macOS', {env: EVIL, euid: 1000, platform: 'darwin', uid: 1000}, '/home/u/Library/Logs/av'],
    [
      'an account with no home: a path that cannot be written, never one relative to the cwd',
      {env: EVIL, euid: 1001, platform: 'linux', uid: 1001},
      '/nonexistent/.local/state/av',
    ],
    [
      'root in a root-owned temp HOME (the test suites)',
      {env: {HOME: '/tmp/av-cmd-1'}, euid: 0, platform: 'linux', uid: 0},
      '/tmp/av-cmd-1/.local/state/av',
    ],
    [
      'root with XDG_STATE_HOME in a root-owned place',
      {env: {HOME: '/root', XDG_STATE_HOME: '/tmp/av-cmd-1/state'}, euid: 0, platform: 'linux', uid: 0},
      '/tmp/av-cmd-1/state/av',
    ],
    [
      "root with a user's HOME (sudo -E): root's own trail, not the user's directory",
      {env: EVIL, euid: 0, platform: 'linux', uid: 0},
      '/root/.local/state/av',
    ],
    [
      'root with a HOME others can write',
      {env: {HOME: '/tmp/open'}, euid: 0, platform: 'linux', uid: 0},
      '/root/.local/state/av',
    ],
    ['root, plain', {env: {}, euid: 0, platform: 'linux', uid: 0}, '/root/.local/state/av'],
    [
      'a setuid-root process of a user: the real uid, and no word from the environment',
      {env: {HOME: '/tmp/av-cmd-1'}, euid: 0, platform: 'linux', uid: 1000},
      '/home/u/.local/state/av',
    ],
  ]
  for (const [name, input, expected] of cases) {
    it(name, () => assert.equal(auditDir(input, deps), expected))
  }
})
