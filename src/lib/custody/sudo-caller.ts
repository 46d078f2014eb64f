/**
 * Who ran sudo for a root entry point of av (custody-main.ts, root-launch-main.ts). Such a program trusts nothing
 * from its caller but argv and stdin: the user is SUDO_UID, cross-checked through /proc against the sudo process's
 * real uid and the uid of the process that ran sudo. Refusals carry a stable reason code (refusal.ts).
 */
import type {ProcessSnapshot, ProcessTable} from '../core/process-table.js'

import {refusal} from '../core/errors.js'
import {checkRootOwned, type TrustFs} from '../core/trust.js'

export const SUDO_EXE = '/usr/bin/sudo'
/** sudo with `use_pty` runs the command under a second (monitor) sudo process. */
const MAX_SUDO_HOPS = 2

export interface SudoCaller {
  caller: ProcessSnapshot
  uid: number
}

export interface SudoCallerDeps {
  /** The reset environment sudo gave the entry point: SUDO_UID is all this reads. */
  env: NodeJS.ProcessEnv
  pid: number
  table: ProcessTable
  trustFs: TrustFs
}

/**
 * The process that ran sudo, and the user it ran as: SUDO_UID must agree with /proc on the sudo process and on
 * its caller. With `rootCaller`, the caller may instead be a root process (av's root launcher asking the user's
 * password through sudo for one held run; sudo then authenticated the user it names in SUDO_UID).
 */
export function findSudoCaller(deps: SudoCallerDeps, options: {rootCaller?: boolean} = {}): SudoCaller {
  const claimed = deps.env.SUDO_UID
  if (claimed === undefined || !/^\d+$/.test(claimed)) {
    throw refusal('custody-not-sudo', 'not started through sudo (no SUDO_UID)')
  }

  const uid = Number(claimed)
  const sudo = deps.trustFs.realpath(SUDO_EXE)
  let outer: null | ProcessSnapshot = null
  let current = deps.table.snapshot(deps.pid)
  for (let hops = 0; current && hops <= MAX_SUDO_HOPS; hops++) {
    const parent = deps.table.snapshot(current.ppid)
    if (!parent || parent.exe !== sudo) break
    outer = parent
    current = parent
  }

  if (!outer) throw refusal('custody-not-sudo', 'the parent process is not sudo')
  const trusted = checkRootOwned(sudo, deps.trustFs)
  if (!trusted.ok) throw refusal('custody-not-sudo', `${trusted.path} ${trusted.reason}`)
  const caller = deps.table.snapshot(outer.ppid)
  if (!caller) throw refusal('custody-caller-untrusted', 'the process that ran sudo is gone')
  const callerOk = caller.uid === uid || (options.rootCaller === true && caller.uid === 0)
  if (outer.uid !== uid || !callerOk) {
    throw refusal('custody-not-sudo', `SUDO_UID ${uid} is not the uid that ran sudo`)
  }

  return {caller, uid}
}
