/**
 * `av doctor`, the machine: the real MachineFacts (/proc on Linux, the first `aws` on PATH), and the checks on
 * them that decide whether another process of the user's can read an aws run's memory (ptrace scope, core dumps).
 */
import * as nodeFs from 'node:fs'
import path from 'node:path'

import {type Check, type MachineFacts, ok, readText, warn} from './doctor-check.js'

/** The real machine: /proc on Linux, PATH search for `aws`. */
export function systemMachineFacts(env: NodeJS.ProcessEnv): MachineFacts {
  return {
    awsOnPath: () => findOnPath('aws', env.PATH ?? ''),
    corePattern: () => readText('/proc/sys/kernel/core_pattern'),
    limits: () => readText('/proc/self/limits'),
    ptraceScope: () => readText('/proc/sys/kernel/yama/ptrace_scope'),
  }
}

/** First executable file called `name` in a PATH string (absolute entries only: a relative one is cwd-dependent). */
export function findOnPath(name: string, pathVar: string): null | string {
  for (const dir of pathVar.split(':')) {
    if (!dir.startsWith('/')) continue
    const candidate = path.join(dir, name)
    try {
      if (nodeFs.statSync(candidate).isFile()) {
        nodeFs.accessSync(candidate, nodeFs.constants.X_OK)
        return candidate
      }
    } catch {}
  }

  return null
}

const PTRACE_EXPLAINED =
  '0 = any process of yours may attach to any other; 1 = only to its own descendants (an agent can still attach ' +
  'to an aws run it starts); 2 = only with CAP_SYS_PTRACE (admin); 3 = no attaching at all, fixed until reboot'

export function checkPtrace(platform: NodeJS.Platform, machine: MachineFacts): Check {
  if (platform !== 'linux') return ok('ptrace-scope', `not applicable on ${platform}`)
  const raw = machine.ptraceScope()
  const fix =
    'Run `sudo sysctl -w kernel.yama.ptrace_scope=2` and persist it in /etc/sysctl.d/10-ptrace.conf (1 at the least).'
  if (raw === null) {
    return warn(
      'ptrace-scope',
      `the Yama LSM is absent: any process of yours may read another's memory (${PTRACE_EXPLAINED})`,
      fix,
    )
  }

  const scope = Number(raw.trim())
  if (!Number.isInteger(scope) || scope < 1) {
    return warn('ptrace-scope', `kernel.yama.ptrace_scope = ${raw.trim()} (${PTRACE_EXPLAINED})`, fix)
  }

  return ok('ptrace-scope', `kernel.yama.ptrace_scope = ${scope} (${PTRACE_EXPLAINED})`)
}

export function checkCoreDumps(platform: NodeJS.Platform, machine: MachineFacts): Check {
  if (platform !== 'linux') return ok('core-dumps', `not checked on ${platform}`)
  const line = (machine.limits() ?? '').split('\n').find((l) => l.startsWith('Max core file size'))
  const [soft, hard] = line ? line.slice('Max core file size'.length).trim().split(/\s+/) : []
  const pattern = (machine.corePattern() ?? '').trim()
  const where = pattern.startsWith('|')
    ? `piped to ${pattern.slice(1).split(' ')[0]}`
    : `written as ${pattern || 'core'}`
  if (soft === undefined)
    return warn('core-dumps', 'the core dump limit cannot be read', 'Run `ulimit -c 0` in your shell profile.')
  if (soft !== '0') {
    return warn(
      'core-dumps',
      `core dumps are enabled (limit ${soft}, ${where}): a crashing aws or helper process would write its memory, credentials included, to disk`,
      'Add `ulimit -c 0` to your shell profile (and `* hard core 0` to /etc/security/limits.conf).',
    )
  }

  return ok('core-dumps', `core dumps are off (soft limit 0${hard && hard !== '0' ? `, hard ${hard}` : ''})`)
}
