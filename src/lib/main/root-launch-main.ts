/**
 * The root launcher's entry: `sudo -n <prefix>/libexec/av-launch aws <args…>` runs the root-owned node on this
 * file with sudo's reset environment narrowed to SUDO_UID, AV_POLICY and the launch variables (root-launcher.ts
 * LAUNCH_ENV). This file is the one place that wires the real world into the root launcher.
 */
import path from 'node:path'

import type {RootLaunchDeps} from '../custody/root-launcher.js'

import {FileAuditLog, procProcessChain} from '../audit/audit.js'
import {exitCodeOf, formatError} from '../core/errors.js'
import {loadPolicy} from '../core/policy.js'
import {linuxProcessTable} from '../core/process-table.js'
import {signalReachedOwnGroup} from '../core/relay.js'
import {traceFrom} from '../core/trace.js'
import {accountOf, readAllAsUser, readAsUser, spawnAsUser} from '../custody/as-user.js'
import {askProgramsAsRoot, askRootApproval, hasControllingTerminal, promptEnv} from '../custody/root-approval.js'
import {launchAsRoot, launchEnv} from '../custody/root-launcher.js'
import {RunStore} from '../custody/run-record.js'
import {classifyArgv, loadUserDecisions} from '../gate/classify.js'
import {type Prewarmed} from '../run/prewarm.js'
import {FileCustodyStore} from '../store/custody-store.js'
import {processWorld} from '../world/process-world.js'
import {realCustodyDeps} from './custody-main.js'
import {serveReleases} from './release-server.js'
import {startedAs} from './started-as.js'

export function realRootLaunchDeps(prewarmed: null | Prewarmed = null): RootLaunchDeps {
  const {clock, env, euid, pid, stderr, trustFs} = processWorld()
  const loaded = loadPolicy({env})
  const custodyDir = (uid: number) => {
    if (!loaded.policy.custody) throw new Error('custody is not configured')
    return path.join(loaded.policy.custody.dir, String(uid))
  }

  // What prefetchAsUser read in one switch of ids; a file it did not read is read on its own.
  const prefetched = new Map<string, Buffer | Error>()
  const readFor = (uid: number, gid: number, file: string): Buffer => {
    const read = prefetched.get(file) ?? readAsUser(uid, gid, file)
    if (read instanceof Error) throw read
    return read
  }

  return {
    account: accountOf,
    approve: (input) =>
      askRootApproval(input, {
        askPrograms: askProgramsAsRoot,
        authEntry: `${loaded.policy.custody!.entry}-auth`,
        clock,
        hasTerminal: hasControllingTerminal,
        sleep: (ms) =>
          new Promise((resolve) => {
            setTimeout(resolve, ms)
          }),
        startPrompt: (argv, user) =>
          spawnAsUser(argv, {cwd: '/', env: promptEnv(launchEnv(env)), gid: user.gid, uid: user.uid}),
        stderr,
      }),
    audit(uid) {
      const store = new FileCustodyStore(custodyDir(uid), trustFs)
      return new FileAuditLog(store.dir, () => clock.now(), {
        processChain: (pid: number) => procProcessChain(pid),
        store,
      })
    },
    classify: classifyArgv,
    clock,
    cwd: process.cwd(),
    env,
    euid,
    loadPolicy: () => loaded,
    pid,
    prewarmed,
    prefetchAsUser(user, files) {
      for (const [i, read] of readAllAsUser(user.uid, user.gid, files).entries()) prefetched.set(files[i]!, read)
    },
    readAsUser(user, file) {
      try {
        return readFor(user.uid, user.gid, file)
      } catch {
        return null
      }
    },
    runs: (runDir, uid) => new RunStore(runDir, uid),
    signalReachedChild: signalReachedOwnGroup,
    signals: process,
    spawnAsUser: (argv, options) => spawnAsUser(argv, options),
    // The release reads the user's AWS config as the gate did: the same bytes, without switching ids again.
    serveReleases: (dir, run) =>
      serveReleases(dir, run, {
        ...realCustodyDeps(),
        readAsUser: readFor,
      }),
    stderr,
    table: linuxProcessTable(),
    trace: traceFrom(env, 'root-launcher', (text) => stderr.write(text)),
    trustFs,
    // The user's own ~/.config/av/config.json, read with the user's rights (it may only tighten).
    userDecisions: (user) =>
      loadUserDecisions({
        env: {},
        home: user.home,
        readFile: (file) => readFor(user.uid, user.gid, file).toString('utf8'),
      }),
  }
}

export async function main(argv: string[], prewarmed: null | Prewarmed = null): Promise<number> {
  try {
    return await launchAsRoot(argv, realRootLaunchDeps(prewarmed))
  } catch (error) {
    process.stderr.write(formatError(error) + '\n')
    return exitCodeOf(error)
  }
}

/**
 * Run as the process's entry: the install's entry script starts root-launch.ts (which may have started the CLI's
 * interpreter already), or this file directly: `node <av>/dist/lib/main/root-launch-main.js aws …`.
 */
export function runAsEntry(prewarmed: null | Prewarmed): void {
  // No inspector on SIGUSR1 (only root could send it here, but the rule holds for every av process).
  process.on('SIGUSR1', () => {})
  // Exit at once rather than let Node tear its heap down (~3 ms a call, and sudo and the user's shell wait for it):
  // everything is written by then (the run's audit line is awaited; stderr to a pipe, file or tty is synchronous on
  // Linux, where alone the root launcher runs).
  // eslint-disable-next-line n/no-process-exit, unicorn/no-process-exit -- see above: a process entry, all written
  main(process.argv.slice(2), prewarmed).then((code) => process.exit(code))
}

if (startedAs(import.meta.url, 'root-launch-main')) runAsEntry(null)
