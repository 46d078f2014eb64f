/**
 * The root launcher answers its own run's credential_process (custody mode), so a release costs one sudo and a
 * few shell builtins instead of a second root Node process. The AWS CLI still runs `sudo -n <entry> release
 * --profile P --run ID`; the entry script (install-custody.ts) finds this run's serve directory, root-only, makes a
 * FIFO in it named by its own pid and waits. The launcher sees the FIFO appear, checks the process that made it
 * exactly as `av-custody release` checks itself (custody-main.ts `serveRelease`: started by sudo for this run's
 * CLI, nothing traced or changed), and writes the answer into the FIFO, which only root can open. When the
 * launcher is not there to answer (its run is over), the entry script runs the entry point as before.
 */
import {closeSync, constants, existsSync, openSync, watch, writeSync} from 'node:fs'
import path from 'node:path'

import {type CustodyDeps, serveRelease} from './custody-main.js'

/** How long the launcher waits for the entry script to open its FIFO for reading (it does so right after making it). */
const OPEN_TIMEOUT_MS = 5000

export function serveReleases(dir: string, run: {id: string; profile: string}, deps: CustodyDeps): {stop(): void} {
  const seen = new Set<string>()
  const watcher = watch(dir, (_event, name) => {
    const file = typeof name === 'string' ? name : ''
    if (!/^\d{1,10}$/.test(file)) return
    // A FIFO's removal (the entry script's, after reading) frees its name: a later process may reuse that pid.
    if (!existsSync(path.join(dir, file))) {
      seen.delete(file)
      return
    }

    if (seen.has(file)) return
    seen.add(file)
    answer(path.join(dir, file), Number(file), run, deps).catch((error: unknown) => {
      deps.stderr.write(`av: warning: a release for run ${run.id} was not answered: ${(error as Error).message}\n`)
    })
  })
  return {stop: () => watcher.close()}
}

async function answer(fifo: string, pid: number, run: {id: string; profile: string}, deps: CustodyDeps): Promise<void> {
  const reply = await serveRelease(deps, pid, run)
  const fd = await openForWriting(fifo, deps.clock)
  try {
    writeSync(fd, reply)
  } finally {
    closeSync(fd)
  }
}

/** The FIFO's write end, without blocking the launcher: ENXIO until the entry script has it open for reading. */
async function openForWriting(fifo: string, clock: CustodyDeps['clock']): Promise<number> {
  const deadline = clock.now() + OPEN_TIMEOUT_MS
  for (;;) {
    try {
      return openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENXIO' || clock.now() > deadline) throw error
    }

    // eslint-disable-next-line no-await-in-loop -- polling the one FIFO until its reader is there
    await new Promise((resolve) => {
      setTimeout(resolve, 2)
    })
  }
}
