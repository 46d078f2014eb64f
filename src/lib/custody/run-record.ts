/**
 * What root remembers about each custody run, in a root-owned directory (policy `custody.runDir`, default /run/av):
 *
 *   <runDir>/<uid>/                 0711 root: the user may pass through to its run's HOME, never list
 *     home-<id>/.aws/config         0755/0644 root: the sealed HOME and config the AWS CLI reads (nothing secret)
 *     runs/<id>.json                0600 root: the run record — which launcher, CLI argv, profile, elevated
 *     approvals/<id>.json           0600 root: a held command waiting for the user's password
 *     approvals/<id>.answer         0600 root: that password's verdict (approved or denied), bound to the run
 *
 * The record replaces the per-run token of keychain mode: the release verb checks the CLI that asks against the
 * record root wrote before starting it, so nothing secret ever travels through a process of the user. A record is
 * only ever written and read by root; the user learns a run's id (it is in the CLI's config) but cannot forge,
 * change or read a record.
 */
import {randomBytes} from 'node:crypto'
import {
  chmodSync,
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs'
import path from 'node:path'

import type {ProcessSnapshot} from '../core/process-table.js'
import type {RefusalReason} from '../core/refusal.js'
import type {ApprovalRequest} from '../gate/types.js'

import {AvError} from '../core/errors.js'
import {hashArgv} from '../run/token.js'

export const DEFAULT_RUN_DIR = '/run/av'
/** How long a held command waits for `av approve` unless the root policy says otherwise. */
export const DEFAULT_APPROVAL_TIMEOUT_SECONDS = 120

/** The one run an approval or a release belongs to: the root launcher (pid + start time) and the exact argv. */
export interface RunBinding {
  launcherPid: number
  launcherStart: string
  /** hashArgv of the AWS CLI arguments the gate classified (after `aws`). */
  argvHash: string
}

export interface RunRecord extends RunBinding {
  v: 1
  id: string
  uid: number
  profile: string
  /** hashArgv of the whole argv the CLI was started with (what /proc/<cli>/cmdline shows). */
  cliArgvHash: string
  /** realpath of the interpreter or binary the CLI runs (the CLI's /proc/<pid>/exe). */
  runtimeExe: string
  /** The run holds the durable key (an elevated command the user approved with their password). */
  elevated: boolean
  /** The user's AWS config, read with the user's rights when a release needs the profile's settings. */
  userConfigFile: string
  /** Milliseconds since the epoch. */
  expires: number
}

export interface PendingApproval {
  v: 1
  id: string
  uid: number
  binding: RunBinding
  request: ApprovalRequest
  /** The run gets the durable key if approved. */
  elevated: boolean
  created: number
  expires: number
}

export interface ApprovalAnswerRecord {
  v: 1
  id: string
  answer: 'approved' | 'denied'
  binding: RunBinding
  at: number
  /** Who answered: the pid that ran sudo for `approve`/`deny`. */
  byPid: number
}

const ID = /^[\da-f]{6,32}$/

export function isRunId(id: string): boolean {
  return ID.test(id)
}

/** An approval counts for exactly the run it was given to: same launcher process (pid and start) and argv. */
export function approvalMatches(answer: ApprovalAnswerRecord, run: RunBinding): boolean {
  return (
    answer.answer === 'approved' &&
    answer.binding.launcherPid === run.launcherPid &&
    answer.binding.launcherStart === run.launcherStart &&
    answer.binding.argvHash === run.argvHash
  )
}

/** Root-only file writes: a temp name, fsync, rename; 0600 unless said. */
function writeRootFile(file: string, text: string, mode = 0o600): void {
  const temp = `${file}.tmp-${process.pid}`
  const fd = openSync(temp, 'wx', mode)
  try {
    writeSync(fd, text)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }

  chmodSync(temp, mode)
  renameSync(temp, file)
}

function rootDir(dir: string, mode: number): string {
  mkdirSync(dir, {mode, recursive: true})
  const facts = statSync(dir)
  if (facts.uid !== 0 || !facts.isDirectory()) {
    throw new AvError('refused', `${dir} is not a root-owned directory`, {
      suggestion: 'Remove it and run the command again; av makes it afresh.',
    })
  }

  if ((facts.mode & 0o7777) !== mode) chmodSync(dir, mode)
  return dir
}

function readJson<T>(file: string): null | T {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T
  } catch {
    return null
  }
}

/** The run and approval records of one user, under `<runDir>/<uid>`. Root only. */
export class RunStore {
  readonly dir: string

  constructor(
    runDir: string,
    readonly uid: number,
  ) {
    this.dir = path.join(runDir, String(uid))
  }

  /** A fresh run: its id and its sealed HOME (root-owned, readable by the user: it holds nothing secret). */
  createRun(): {home: string; id: string} {
    this.userDir()
    const id = randomBytes(8).toString('hex')
    const home = path.join(this.dir, `home-${id}`)
    // The user's umask reaches root through sudo: set the modes the CLI (run as the user) needs explicitly.
    for (const dir of [home, path.join(home, '.aws')]) {
      mkdirSync(dir, {mode: 0o755})
      chmodSync(dir, 0o755)
    }

    return {home, id}
  }

  /** The generated config inside a run's HOME: root-owned 0644, so no process of the user can change it. */
  writeConfig(home: string, text: string): string {
    const file = path.join(home, '.aws', 'config')
    writeRootFile(file, text, 0o644)
    return file
  }

  /** `<runDir>/<uid>`, made when missing: root-owned 0711 up from the run dir itself. */
  private userDir(): string {
    rootDir(path.dirname(this.dir), 0o711)
    return rootDir(this.dir, 0o711)
  }

  writeRecord(record: RunRecord): void {
    writeRootFile(path.join(rootDir(path.join(this.dir, 'runs'), 0o700), `${record.id}.json`), JSON.stringify(record))
  }

  readRecord(id: string): null | RunRecord {
    if (!isRunId(id)) return null
    const record = readJson<RunRecord>(path.join(this.dir, 'runs', `${id}.json`))
    return record?.v === 1 && record.id === id && record.uid === this.uid ? record : null
  }

  removeRun(id: string): void {
    rmSync(path.join(this.dir, 'runs', `${id}.json`), {force: true})
    rmSync(path.join(this.dir, `home-${id}`), {force: true, recursive: true})
    rmSync(path.join(this.dir, `serve-${id}`), {force: true, recursive: true})
  }

  /**
   * `<runDir>/<uid>/serve-<id>`, root-only (0700): where the custody entry script, run by sudo for this run's AWS
   * CLI, leaves a FIFO named by its pid for the root launcher to answer (release-server.ts).
   */
  serveDir(id: string): string {
    if (!isRunId(id)) throw new AvError('internal', `not a run id: ${id}`)
    return rootDir(path.join(this.userDir(), `serve-${id}`), 0o700)
  }

  /** A held command waiting for the user's password; the id is what `av approve` names. */
  createPending(input: Omit<PendingApproval, 'id' | 'uid' | 'v'>): PendingApproval {
    const dir = rootDir(path.join(this.userDir(), 'approvals'), 0o700)
    for (;;) {
      const id = randomBytes(3).toString('hex')
      const file = path.join(dir, `${id}.json`)
      const pending: PendingApproval = {...input, id, uid: this.uid, v: 1}
      try {
        const fd = openSync(file, 'wx', 0o600)
        try {
          writeSync(fd, JSON.stringify(pending))
        } finally {
          closeSync(fd)
        }

        // An answer left from an earlier request with this id (approved as its launcher gave up) must not count.
        rmSync(path.join(dir, `${id}.answer`), {force: true})
        return pending
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      }
    }
  }

  readPending(id: string): null | PendingApproval {
    if (!isRunId(id)) return null
    const pending = readJson<PendingApproval>(path.join(this.dir, 'approvals', `${id}.json`))
    return pending?.v === 1 && pending.id === id && pending.uid === this.uid ? pending : null
  }

  listPending(now: number): PendingApproval[] {
    let names: string[]
    try {
      names = readdirSync(path.join(this.dir, 'approvals'))
    } catch {
      return []
    }

    return names
      .filter((name) => name.endsWith('.json'))
      .map((name) => this.readPending(name.slice(0, -5)))
      .filter((p): p is PendingApproval => p !== null && p.expires > now)
      .sort((a, b) => a.created - b.created)
  }

  /** Record the verdict on a pending request; the first verdict stands (a later approve cannot undo a deny). */
  answer(pending: PendingApproval, answer: ApprovalAnswerRecord['answer'], byPid: number, at: number): boolean {
    const record: ApprovalAnswerRecord = {answer, at, binding: pending.binding, byPid, id: pending.id, v: 1}
    const file = path.join(this.dir, 'approvals', `${pending.id}.answer`)
    try {
      const fd = openSync(file, 'wx', 0o600)
      try {
        writeSync(fd, JSON.stringify(record))
        fsyncSync(fd)
      } finally {
        closeSync(fd)
      }

      return true
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
      throw error
    }
  }

  readAnswer(id: string): ApprovalAnswerRecord | null {
    if (!isRunId(id)) return null
    const answer = readJson<ApprovalAnswerRecord>(path.join(this.dir, 'approvals', `${id}.answer`))
    return answer?.v === 1 && answer.id === id ? answer : null
  }

  /** The request and its answer are gone once the launcher took the verdict (or gave up): one use only. */
  removePending(id: string): void {
    if (!isRunId(id)) return
    rmSync(path.join(this.dir, 'approvals', `${id}.json`), {force: true})
    rmSync(path.join(this.dir, 'approvals', `${id}.answer`), {force: true})
  }
}

export interface RunCallerFacts {
  /** The process that ran sudo for `release`: it must be the run's AWS CLI. */
  cli: null | ProcessSnapshot
  /** The CLI's parent: it must be the run's root launcher. */
  launcher: null | ProcessSnapshot
  record: null | RunRecord
  /** The profile the credential_process line names. */
  profile: string
  uid: number
  now: number
}

export type RunCallerVerdict = {detail: string; ok: false; reason: RefusalReason} | {ok: true}

const refuse = (reason: RefusalReason, detail: string): RunCallerVerdict => ({detail, ok: false, reason})

/**
 * May this caller have the run's credentials? Pure over what root read from its own record and /proc: the caller is
 * the very CLI the root launcher started (executable, argv, uid, untraced), its parent is that launcher (pid, start
 * time, root), the run is live and for this profile.
 */
export function verifyRunCaller(facts: RunCallerFacts): RunCallerVerdict {
  const {cli, launcher, record} = facts
  if (!record) return refuse('run-unknown', 'no live run of this user has that id (av did not start it, or it ended)')
  if (record.profile !== facts.profile) {
    return refuse('profile-mismatch', `this run is for profile "${record.profile}", not "${facts.profile}"`)
  }

  if (record.expires <= facts.now) return refuse('run-expired', 'this run is past its longest allowed length')
  if (!cli) return refuse('parent-gone', 'the process that asked is gone')
  if (cli.tracerPid !== 0) return refuse('traced', `process ${cli.pid} is being traced (tracer ${cli.tracerPid})`)
  if (cli.uid !== facts.uid) return refuse('uid-mismatch', `process ${cli.pid} does not run as uid ${facts.uid}`)
  if (cli.exe !== record.runtimeExe) {
    return refuse(
      'parent-not-runtime',
      `process ${cli.pid} runs ${cli.exe ?? 'an unreadable executable'}, not the run's AWS CLI`,
    )
  }

  if (hashArgv(cli.argv) !== record.cliArgvHash) {
    return refuse('argv-mismatch', `process ${cli.pid} runs other AWS CLI arguments than the run was started with`)
  }

  if (!launcher || cli.ppid !== record.launcherPid || launcher.pid !== record.launcherPid) {
    return refuse(
      'grandparent-not-launcher',
      `process ${cli.pid} was not started by this run's launcher ${record.launcherPid}`,
    )
  }

  if (launcher.startTime !== record.launcherStart) {
    return refuse(
      'launcher-start-mismatch',
      `process ${launcher.pid} is not the launcher of this run (it started at another time)`,
    )
  }

  if (launcher.uid !== 0) return refuse('launcher-untrusted', `the launcher ${launcher.pid} is not a root process`)
  return {ok: true}
}
