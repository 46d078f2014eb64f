// The run record root writes before it starts the AWS CLI, and the one verdict the release verb gives over it: the
// process that asks must be that very CLI, started by that root launcher, for that profile, while the run lives.
import assert from 'node:assert/strict'
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'

import type {ApprovalRequest} from '../../../src/lib/gate/types.js'

import {AvError} from '../../../src/lib/core/errors.js'
import {
  type ApprovalAnswerRecord,
  approvalMatches,
  type RunBinding,
  type RunCallerFacts,
  type RunRecord,
  RunStore,
  verifyRunCaller,
} from '../../../src/lib/custody/run-record.js'
import {hashArgv} from '../../../src/lib/run/token.js'
import {snap} from '../../fakes/process-world.js'

const NOW = 1_800_000_000_000
const CLI_ARGV = ['/opt/av/libexec/python3', '-I', '/usr/bin/aws', 'iam', 'list-users']
const BINDING: RunBinding = {argvHash: hashArgv(['iam', 'list-users']), launcherPid: 20, launcherStart: '777'}
const RECORD: RunRecord = {
  ...BINDING,
  cliArgvHash: hashArgv(CLI_ARGV),
  elevated: false,
  expires: NOW + 60_000,
  id: '0123456789abcdef',
  profile: 'dev',
  runtimeExe: '/opt/av/libexec/python3',
  uid: 1000,
  userConfigFile: '/home/u/.aws/config',
  v: 1,
}
/** root launcher (20, uid 0) ← the AWS CLI it started as the user (21): what `release` must find. */
const LAUNCHER = snap({argv: ['/usr/bin/node'], exe: '/usr/bin/node', pid: 20, startTime: '777', uid: 0})
const CLI = snap({argv: CLI_ARGV, exe: '/opt/av/libexec/python3', pid: 21, ppid: 20, startTime: '780'})

const facts = (over: Partial<RunCallerFacts> = {}): RunCallerFacts => ({
  cli: CLI,
  launcher: LAUNCHER,
  now: NOW,
  profile: 'dev',
  record: RECORD,
  uid: 1000,
  ...over,
})

describe('verifyRunCaller: may this process have the run credentials?', () => {
  const TABLE: Array<[string, Partial<RunCallerFacts>, string]> = [
    ['the run CLI, child of its root launcher', {}, 'ok'],
    ['the run CLI, its last millisecond', {now: RECORD.expires - 1}, 'ok'],
    ['a run root has no record of', {record: null}, 'run-unknown'],
    ['another profile than the run', {profile: 'prod'}, 'profile-mismatch'],
    ['a run past its end', {now: RECORD.expires}, 'run-expired'],
    ['a run long past its end', {now: RECORD.expires + 1}, 'run-expired'],
    ['the asking process is gone', {cli: null}, 'parent-gone'],
    ['the CLI is traced', {cli: {...CLI, tracerPid: 99}}, 'traced'],
    ['the CLI runs as another user', {cli: {...CLI, uid: 1001}}, 'uid-mismatch'],
    ['the CLI runs as root', {cli: {...CLI, uid: 0}}, 'uid-mismatch'],
    ['a shell with the run id', {cli: {...CLI, argv: ['/usr/bin/bash'], exe: '/usr/bin/bash'}}, 'parent-not-runtime'],
    ['a copy of the interpreter', {cli: {...CLI, exe: '/home/u/python3'}}, 'parent-not-runtime'],
    ['an unreadable executable', {cli: {...CLI, exe: null}}, 'parent-not-runtime'],
    ['the runtime with other arguments', {cli: {...CLI, argv: [...CLI_ARGV, '--debug']}}, 'argv-mismatch'],
    ['the runtime started by the user, not the launcher', {cli: {...CLI, ppid: 30}}, 'grandparent-not-launcher'],
    ['the launcher is gone', {launcher: null}, 'grandparent-not-launcher'],
    ['another process read as the launcher', {launcher: {...LAUNCHER, pid: 22}}, 'grandparent-not-launcher'],
    ['the launcher pid reused', {launcher: {...LAUNCHER, startTime: '778'}}, 'launcher-start-mismatch'],
    ['a launcher of the user', {launcher: {...LAUNCHER, uid: 1000}}, 'launcher-untrusted'],
  ]
  for (const [name, over, expected] of TABLE) {
    it(`${name} → ${expected}`, () => {
      const verdict = verifyRunCaller(facts(over))
      assert.equal(verdict.ok ? 'ok' : verdict.reason, expected, verdict.ok ? '' : verdict.detail)
      if (!verdict.ok) assert.ok(verdict.detail.length > 0)
    })
  }
})

describe('approvalMatches: an approval counts for the one run it was given to', () => {
  const answer = (
    over: Partial<ApprovalAnswerRecord> = {},
    binding: Partial<RunBinding> = {},
  ): ApprovalAnswerRecord => ({
    answer: 'approved',
    at: NOW,
    binding: {...BINDING, ...binding},
    byPid: 30,
    id: 'abcdef',
    v: 1,
    ...over,
  })
  const TABLE: Array<[string, ApprovalAnswerRecord, boolean]> = [
    ['the same run', answer(), true],
    ['another launcher pid', answer({}, {launcherPid: 21}), false],
    ['the launcher pid reused (another start time)', answer({}, {launcherStart: '778'}), false],
    ['other arguments', answer({}, {argvHash: hashArgv(['iam', 'list-users', '--debug'])}), false],
    ['a deny of the same run', answer({answer: 'denied'}), false],
  ]
  for (const [name, record, expected] of TABLE) {
    it(`${name} → ${expected ? 'approved' : 'not approved'}`, () => {
      assert.equal(approvalMatches(record, BINDING), expected)
    })
  }
})

/** `uid:mode` of a path, e.g. `0:711`. */
const owner = (p: string) => `${statSync(p).uid}:${(statSync(p).mode & 0o7777).toString(8)}`

describe('RunStore in a root-owned run dir', () => {
  const isRoot = process.getuid?.() === 0
  const skip = !isRoot && 'needs root (root-owned files)'
  const base = mkdtempSync(path.join(tmpdir(), 'av-run-record-'))
  chmodSync(base, 0o755)

  after(() => rmSync(base, {force: true, recursive: true}))
  let n = 0
  const fresh = (uid = 1000) => new RunStore(path.join(base, `run-${++n}`), uid)
  const request: ApprovalRequest = {
    category: 'decrypted-secret',
    chain: [{name: 'bash', pid: 30}],
    command: 'aws secretsmanager get-secret-value --secret-id x',
    endpoint: null,
    profile: 'dev',
    reason: 'prints a secret',
    rule: 'secretsmanager get-secret-value',
  }
  const pendingInput = (created: number, expires: number) => ({
    binding: BINDING,
    created,
    elevated: false,
    expires,
    request,
  })

  it('a run: a root-owned HOME the user may read, its config root-owned 0644', {skip}, () => {
    const runs = fresh()
    const {home, id} = runs.createRun()
    assert.match(id, /^[\da-f]{16}$/)
    assert.equal(home, path.join(runs.dir, `home-${id}`))
    assert.equal(owner(path.dirname(runs.dir)), '0:711')
    assert.equal(owner(runs.dir), '0:711')
    assert.equal(owner(home), '0:755')
    assert.equal(owner(path.join(home, '.aws')), '0:755')
    const file = runs.writeConfig(home, '[profile dev]\nregion = eu-west-1\n')
    assert.equal(file, path.join(home, '.aws', 'config'))
    assert.equal(owner(file), '0:644')
    assert.equal(readFileSync(file, 'utf8'), '[profile dev]\nregion = eu-west-1\n')
    // Written again (atomically), it stays root-owned 0644 and holds only the new text.
    runs.writeConfig(home, '[profile dev]\n')
    assert.equal(owner(file), '0:644')
    assert.equal(readFileSync(file, 'utf8'), '[profile dev]\n')
    assert.notEqual(runs.createRun().id, id)
  })

  it('a record: 0600 root in a 0700 directory, read back whole; removeRun takes it and the HOME', {skip}, () => {
    const runs = fresh()
    const {home, id} = runs.createRun()
    const record = {...RECORD, id}
    runs.writeRecord(record)
    const file = path.join(runs.dir, 'runs', `${id}.json`)
    assert.equal(owner(path.dirname(file)), '0:700')
    assert.equal(owner(file), '0:600')
    assert.deepEqual(runs.readRecord(id), record)
    runs.removeRun(id)
    assert.equal(runs.readRecord(id), null)
    assert.equal(existsSync(home), false)
    assert.equal(existsSync(file), false)
  })

  it('what reads as no record: another uid, a bad id, a renamed or broken file', {skip}, () => {
    const runs = fresh()
    const {id} = runs.createRun()
    runs.writeRecord({...RECORD, id})
    const other = new RunStore(path.dirname(runs.dir), 1001)
    const foreign = {...RECORD, id: 'fedcba9876543210', uid: 1001}
    runs.writeRecord(foreign)
    const renamed = path.join(runs.dir, 'runs', 'aaaaaaaaaaaaaaaa.json')
    copyFileSync(path.join(runs.dir, 'runs', `${id}.json`), renamed)
    writeFileSync(path.join(runs.dir, 'runs', 'bbbbbbbbbbbbbbbb.json'), '{"v":1,', {mode: 0o600})
    const TABLE: Array<[string, () => null | RunRecord]> = [
      ["another user's store, the same id", () => other.readRecord(id)],
      ["a record of another uid in this user's directory", () => runs.readRecord(foreign.id)],
      ['an id naming a path', () => runs.readRecord(`../runs/${id}`)],
      ['an id in capitals', () => runs.readRecord(id.toUpperCase())],
      ['an empty id', () => runs.readRecord('')],
      ['a record under another name', () => runs.readRecord('aaaaaaaaaaaaaaaa')],
      ['a broken file', () => runs.readRecord('bbbbbbbbbbbbbbbb')],
      ['no such run', () => runs.readRecord('cccccccccccccccc')],
    ]
    for (const [name, read] of TABLE) assert.equal(read(), null, name)
    assert.equal(runs.readRecord(id)?.id, id)
  })

  it('refuses a user-owned directory where its own should be, and narrows a root one', {skip}, () => {
    const runs = fresh()
    mkdirSync(runs.dir, {mode: 0o755, recursive: true})
    chownSync(runs.dir, 1000, 1000)
    assert.throws(
      () => runs.createRun(),
      (error: unknown) =>
        error instanceof AvError && error.code === 'refused' && /not a root-owned/.test(error.message),
    )
    chownSync(runs.dir, 0, 0)
    chmodSync(runs.dir, 0o777)
    runs.createRun()
    assert.equal(owner(runs.dir), '0:711')
  })

  it('pending approvals: 0600 root, listed while live and oldest first', {skip}, () => {
    const runs = fresh()
    assert.deepEqual(runs.listPending(NOW), [])
    const later = runs.createPending(pendingInput(NOW - 1000, NOW + 60_000))
    const first = runs.createPending(pendingInput(NOW - 2000, NOW + 60_000))
    const expired = runs.createPending(pendingInput(NOW - 3000, NOW))
    assert.match(later.id, /^[\da-f]{6}$/)
    assert.equal(new Set([expired.id, first.id, later.id]).size, 3)
    assert.deepEqual(later, {...pendingInput(NOW - 1000, NOW + 60_000), id: later.id, uid: 1000, v: 1})
    assert.equal(owner(path.join(runs.dir, 'approvals')), '0:700')
    assert.equal(owner(path.join(runs.dir, 'approvals', `${later.id}.json`)), '0:600')
    assert.deepEqual(runs.readPending(later.id), later)
    assert.deepEqual(
      runs.listPending(NOW).map((p) => p.id),
      [first.id, later.id],
    )
    assert.deepEqual(
      runs.listPending(NOW - 1).map((p) => p.id),
      [expired.id, first.id, later.id],
    )
    assert.deepEqual(new RunStore(path.dirname(runs.dir), 1001).listPending(NOW), [])
  })

  it('answers: the first stands, bound to the pending run; removePending takes request and answer', {skip}, () => {
    const runs = fresh()
    const pending = runs.createPending(pendingInput(NOW, NOW + 60_000))
    assert.equal(runs.readAnswer(pending.id), null)
    assert.equal(runs.answer(pending, 'denied', 31, NOW + 1), true)
    assert.equal(runs.answer(pending, 'approved', 32, NOW + 2), false)
    const answer = runs.readAnswer(pending.id)
    assert.deepEqual(answer, {answer: 'denied', at: NOW + 1, binding: BINDING, byPid: 31, id: pending.id, v: 1})
    assert.equal(owner(path.join(runs.dir, 'approvals', `${pending.id}.answer`)), '0:600')
    assert.equal(approvalMatches(answer!, BINDING), false)

    const approved = runs.createPending(pendingInput(NOW, NOW + 60_000))
    assert.equal(runs.answer(approved, 'approved', 33, NOW + 3), true)
    assert.equal(runs.answer(approved, 'denied', 34, NOW + 4), false)
    assert.equal(approvalMatches(runs.readAnswer(approved.id)!, BINDING), true)

    runs.removePending(pending.id)
    assert.equal(runs.readPending(pending.id), null)
    assert.equal(runs.readAnswer(pending.id), null)
    assert.deepEqual(
      runs.listPending(NOW).map((p) => p.id),
      [approved.id],
    )
    assert.equal(runs.readAnswer(`../${pending.id}`), null)
  })
})
