/**
 * The root launcher's first few milliseconds: `sudo -n <prefix>/libexec/av-launch aws …` runs this small entry.
 * It takes over the CLI's interpreter the entry script started, waiting (run/prewarm.ts), or starts one itself
 * as the user, and only then loads the launcher (root-launch-main.cjs, ~25 ms) and runs it: the CLI imports its
 * modules while root loads, gates and asks. Whatever goes wrong here only costs the head start: the launcher then
 * starts the CLI as it always did.
 */
import {closeSync, constants, openSync, readFileSync, statSync, unlinkSync, writeSync} from 'node:fs'
import {createRequire} from 'node:module'

import {passwdEntry} from '../core/passwd.js'
import {DEFAULT_POLICY_PATH} from '../core/policy.js'
import {splitNul} from '../core/process-table.js'
import {AdoptedChild} from '../custody/adopted-child.js'
import {
  isStartupVariable,
  prewarmArgv,
  type Prewarmed,
  runtimeOfPrewarm,
  startPrewarm,
  STARTUP_PATH,
} from '../run/prewarm.js'

/** Write all of `text` to a non-blocking FIFO, waiting a millisecond whenever the reader is behind. */
function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text)
  const pause = new Int32Array(new SharedArrayBuffer(4))
  for (let at = 0; at < bytes.length;) {
    try {
      at += writeSync(fd, bytes, at)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error
      Atomics.wait(pause, 0, 0, 1)
    }
  }
}

/** Uid or Gid line of /proc/<pid>/status: the one id when real, effective, saved and fs ids agree, else null. */
function idOf(status: string, key: 'Gid' | 'Uid'): null | number {
  const ids = new RegExp(`^${key}:\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)$`, 'm').exec(status)?.slice(1)
  return ids && ids.every((id) => id === ids[0]) ? Number(ids[0]) : null
}

/**
 * The interpreter the entry script started (AV_PREWARM=<pid>:<fifo>, set by the entry script itself: sudo passes
 * no such variable): it must be this process's child, running this version's prewarm argv, as one uid and gid.
 * The FIFO's write end is opened now and its name removed; null (and that process killed) otherwise.
 */
function adoptPrewarm(value: string): null | Prewarmed {
  const [, pidText, fifo] = /^(\d{1,10}):(\/[^\0]+)$/.exec(value) ?? []
  const child = pidText && fifo ? AdoptedChild.of(Number(pidText)) : null
  if (!child || !fifo) return null
  try {
    const argv = splitNul(readFileSync(`/proc/${child.pid}/cmdline`, 'utf8'))
    const runtime = runtimeOfPrewarm(argv)
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8')
    const [uid, gid] = [idOf(status, 'Uid'), idOf(status, 'Gid')]
    if (!runtime || uid === null || gid === null || uid === 0) throw new Error('not the waiting interpreter')
    // Non-dumpable (the kernel then gives its /proc entries to root): the user can neither trace nor read it.
    if (statSync(`/proc/${child.pid}/environ`).uid !== 0) throw new Error('the waiting interpreter can be traced')
    const fd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW)
    unlinkSync(fifo)
    const send = (line: string) => {
      try {
        writeAll(fd, line)
      } finally {
        closeSync(fd)
      }
    }

    return {argv, child, gid, runtime, send, uid}
  } catch {
    child.kill('SIGKILL')
    return null
  } finally {
    try {
      unlinkSync(fifo)
    } catch {}
  }
}

/** Start the waiting interpreter for the policy's CLI runtime as the sudo caller, on a socket pair; or null. */
function startForCaller(env: NodeJS.ProcessEnv): null | Prewarmed {
  const uid = Number(env.SUDO_UID)
  if (!/^\d+$/.test(env.SUDO_UID ?? '') || uid === 0) return null
  const policy = JSON.parse(readFileSync(env.AV_POLICY || DEFAULT_POLICY_PATH, 'utf8')) as {
    awsCli?: unknown
    custody?: {awsCli?: unknown}
  }
  const runtime = policy.custody?.awsCli ?? policy.awsCli
  if (!Array.isArray(runtime) || !runtime.every((arg) => typeof arg === 'string')) return null
  const [program, ...args] = process.argv.slice(2)
  const account = passwdEntry(uid)
  if (program !== 'aws' || !account) return null
  const argv = prewarmArgv(runtime as string[], args)
  if (!argv) return null
  const startEnv: Record<string, string> = {PATH: STARTUP_PATH}
  for (const [name, value] of Object.entries(env))
    if (value !== undefined && isStartupVariable(name)) startEnv[name] = value
  return startPrewarm(argv, runtime as string[], {env: startEnv, ids: {gid: account.gid, uid}})
}

/** The entry script's interpreter, else one started here; null when neither can be (the launcher then spawns). */
function prewarm(env: NodeJS.ProcessEnv): null | Prewarmed {
  if (process.geteuid?.() !== 0) return null
  try {
    return (env.AV_PREWARM ? adoptPrewarm(env.AV_PREWARM) : null) ?? startForCaller(env)
  } catch {
    return null
  }
}

const prewarmed = prewarm(process.env)
delete process.env.AV_PREWARM
const {runAsEntry} = createRequire(import.meta.url)('./root-launch-main.cjs') as typeof import('./root-launch-main.js')
runAsEntry(prewarmed)
