/**
 * The process table: who a pid is (parent, start time, executable, argv, uid, tracer) and what environment it
 * started with. Linux reads /proc; macOS runs the absolute `/bin/ps` (never a `ps` found on PATH). Callers never
 * spawn `ps` themselves: they ask a ProcessTable, so tests can hand them a table of snapshots instead.
 *
 * Linux facts:
 * - `stat`: the command name sits in parentheses and may itself contain spaces and `)`, so the fields are read
 *   after the LAST `)`. Field 4 is the ppid, field 22 the start time in clock ticks since boot (a pid reused
 *   later gets a different start time).
 * - `exe` is the kernel's link to the running executable: `exec -a` or a rewritten argv cannot change it.
 * - `cmdline` is argv as NUL-separated strings; `status` gives the real uid and TracerPid (0 = not traced).
 * - `environ` is the environment the process was started with (later changes inside the process do not show).
 * A snapshot reads `stat` again at the end and answers null if the pid changed hands in between.
 *
 * macOS limits (documented, not hidden): `ps` joins argv with spaces, so argv is the joined string split on
 * spaces (an argument containing a space cannot be told apart) and the caller check compares joined strings;
 * `comm` is the path the process was exec'd with, which a same-user attacker can influence more than Linux's
 * `exe` link; the tracer pid is unknown, but the `X` state flag (traced or debugged) is reported as
 * tracerPid -1; `environ` cannot be read reliably through `ps` and answers null.
 */
import {readFileSync, readlinkSync} from 'node:fs'
import {createRequire} from 'node:module'

export interface ProcessSnapshot {
  pid: number
  ppid: number
  /** Opaque but stable for the life of the process: clock ticks since boot (Linux), `lstart` (macOS). */
  startTime: string
  /** The running executable as the kernel knows it, or null when it cannot be read. */
  exe: null | string
  argv: string[]
  /** Real uid. */
  uid: number
  /** Pid of the tracer (0 = not traced; -1 = traced by an unknown process, macOS). */
  tracerPid: number
}

export interface ProcessTable {
  snapshot(pid: number): null | ProcessSnapshot
  /** The environment the process started with, or null when it cannot be read (or on macOS). */
  environ(pid: number): null | Record<string, string>
}

/** The parts of `/proc/<pid>/stat` av uses. Null when the line is not a stat line. */
export function parseProcStat(line: string): null | {
  comm: string
  /** The wait status a zombie left for its parent (field 52, exit_code, Linux 3.5+); null when absent. */
  exitStatus: null | number
  pid: number
  ppid: number
  startTime: string
  /** R, S, D, Z (zombie), X, …  */
  state: string
} {
  const open = line.indexOf(' (')
  const close = line.lastIndexOf(')')
  if (open < 1 || close < open) return null
  const pid = Number(line.slice(0, open))
  // After "comm) " come the fields from 3 (state) onwards: field N is at index N - 3.
  const fields = line
    .slice(close + 1)
    .trim()
    .split(' ')
  const ppid = Number(fields[1])
  const startTime = fields[19]
  if (!Number.isSafeInteger(pid) || !Number.isSafeInteger(ppid) || !startTime || !/^\d+$/.test(startTime)) return null
  const exit = fields[49]
  const exitStatus = exit !== undefined && /^\d+$/.test(exit) ? Number(exit) : null
  return {comm: line.slice(open + 2, close), exitStatus, pid, ppid, startTime, state: fields[0]!}
}

/** Real uid and TracerPid from `/proc/<pid>/status`. */
export function parseProcStatus(text: string): null | {tracerPid: number; uid: number} {
  const uid = /^Uid:\s+(\d+)/m.exec(text)
  const tracer = /^TracerPid:\s+(\d+)/m.exec(text)
  if (!uid || !tracer) return null
  return {tracerPid: Number(tracer[1]), uid: Number(uid[1])}
}

/** NUL-separated strings (cmdline, environ); the final NUL terminates, it does not start an empty string. */
export function splitNul(text: string): string[] {
  if (text === '') return []
  const parts = text.split('\0')
  if (parts.at(-1) === '') parts.pop()
  return parts
}

/** An environ block as a map; entries without `=` are ignored, the first `=` separates name from value. */
export function parseEnviron(text: string): Record<string, string> {
  const env: Record<string, string> = Object.create(null)
  for (const entry of splitNul(text)) {
    const eq = entry.indexOf('=')
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1)
  }

  return env
}

export function linuxProcessTable(procRoot = '/proc'): ProcessTable {
  const read = (pid: number, file: string): null | string => {
    try {
      return readFileSync(`${procRoot}/${pid}/${file}`, 'utf8')
    } catch {
      return null
    }
  }

  return {
    environ(pid) {
      if (!Number.isSafeInteger(pid) || pid <= 0) return null
      const text = read(pid, 'environ')
      return text === null ? null : parseEnviron(text)
    },

    snapshot(pid) {
      if (!Number.isSafeInteger(pid) || pid <= 0) return null
      const statText = read(pid, 'stat')
      const stat = statText === null ? null : parseProcStat(statText)
      if (!stat || stat.pid !== pid) return null
      let exe: null | string = null
      try {
        exe = readlinkSync(`${procRoot}/${pid}/exe`)
      } catch {}

      const cmdline = read(pid, 'cmdline')
      const statusText = read(pid, 'status')
      const status = statusText === null ? null : parseProcStatus(statusText)
      if (cmdline === null || !status) return null
      // The pid may have exited and been reused while we read: the start time must not have moved.
      const again = read(pid, 'stat')
      if (again === null || parseProcStat(again)?.startTime !== stat.startTime) return null
      return {
        argv: splitNul(cmdline),
        exe,
        pid,
        ppid: stat.ppid,
        startTime: stat.startTime,
        tracerPid: status.tracerPid,
        uid: status.uid,
      }
    },
  }
}

/** The fixed-width `ps` columns the macOS table asks for, before the free-text `comm` and `args`. */
export const PS_FIXED_COLUMNS = 'pid=,ppid=,uid=,stat=,lstart='

const LSTART = /^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/

/**
 * Parse one line of `/bin/ps -ww -o pid=,ppid=,uid=,stat=,lstart=,comm=,args= -p <pid>`.
 * `comm` (the executable path) and `args` are both free text and may contain spaces. macOS's `comm` is the path
 * the process was exec'd with and `args` starts with argv[0], which for the programs av checks is that same path;
 * so the split is the shortest prefix P of the rest such that the rest is `P + " " + A` and A starts with P.
 * When no such split exists, `comm` is taken to be the first space-free word (and documented as a limitation).
 */
export function parsePsLine(line: string): null | ProcessSnapshot {
  const m = /^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\S+)\s+(\w{3} \w{3} [ \d]\d \d{2}:\d{2}:\d{2} \d{4})\s+(.*)$/.exec(
    line.replace(/\n$/, ''),
  )
  if (!m) return null
  const [, pid, ppid, uid, state, lstart, rest] = m as unknown as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ]
  if (!LSTART.test(lstart)) return null
  let comm = rest
  let args = ''
  let split = -1
  for (let i = rest.indexOf(' '); i !== -1; i = rest.indexOf(' ', i + 1)) {
    const head = rest.slice(0, i)
    const tail = rest.slice(i + 1).trimStart()
    if (tail === head || tail.startsWith(head + ' ')) {
      split = i
      break
    }
  }

  if (split === -1) split = rest.indexOf(' ')
  if (split !== -1) {
    comm = rest.slice(0, split)
    // ps pads the comm column when other rows are wider.
    args = rest.slice(split + 1).trimStart()
  }

  return {
    argv: args === '' ? [] : args.split(' '),
    exe: comm.startsWith('/') ? comm : null,
    pid: Number(pid),
    ppid: Number(ppid),
    startTime: lstart,
    tracerPid: state.includes('X') ? -1 : 0,
    uid: Number(uid),
  }
}

export type RunPs = (args: string[]) => null | string

const runSystemPs: RunPs = (args) => {
  // Loaded on first use: Linux never needs child_process, and the helper's start-up time counts.
  const {execFileSync} = createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process')
  try {
    return execFileSync('/bin/ps', args, {encoding: 'utf8', env: {}, stdio: ['ignore', 'pipe', 'ignore']})
  } catch {
    return null
  }
}

export function darwinProcessTable(runPs: RunPs = runSystemPs): ProcessTable {
  return {
    environ: () => null,
    snapshot(pid) {
      if (!Number.isSafeInteger(pid) || pid <= 0) return null
      const out = runPs(['-ww', '-o', `${PS_FIXED_COLUMNS},comm=,args=`, '-p', String(pid)])
      const line = out?.split('\n').find((l) => l.trim() !== '')
      const snap = line === undefined ? null : parsePsLine(line)
      return snap && snap.pid === pid ? snap : null
    },
  }
}

export function systemProcessTable(platform: NodeJS.Platform = process.platform): ProcessTable {
  return platform === 'darwin' ? darwinProcessTable() : linuxProcessTable()
}
