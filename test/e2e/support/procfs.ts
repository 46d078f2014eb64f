/** Small /proc readers for the attack tests (the test process is root, so it reads any process). */
import {existsSync, readdirSync, readFileSync} from 'node:fs'

export function ppidOf(pid: number): null | number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return Number(fields[1])
  } catch {
    return null
  }
}

export function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .filter((p) => ppidOf(p) === pid)
}

export function cmdlineOf(pid: number): string[] {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    return raw.split('\0').slice(0, -1)
  } catch {
    return []
  }
}

export function parseEnviron(raw: string): Record<string, string> {
  const env: Record<string, string> = {}
  for (const entry of raw.split('\0')) {
    const eq = entry.indexOf('=')
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1)
  }

  return env
}

export function isAlive(pid: number): boolean {
  return existsSync(`/proc/${pid}`)
}

/** Is anything listening on TCP `port` (IPv4 or IPv6, any address)? */
export function isListening(port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0')
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = ''
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      continue
    }

    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/)
      if (cols[1]?.endsWith(`:${hex}`) && cols[3] === '0A') return true
    }
  }

  return false
}

/** Poll until `predicate` holds or `timeoutMs` passes; returns the last value. */
export async function poll<T>(read: () => T, predicate: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs
  let value = read()
  while (!predicate(value) && Date.now() < until) {
    // eslint-disable-next-line no-await-in-loop -- polling is sequential by nature
    await new Promise<void>((resolve) => {
      setTimeout(resolve, 50)
    })
    value = read()
  }

  return value
}

/** Pids of the processes below `root` (children, grandchildren…), from /proc: this suite's own, no one else's. */
export function descendants(root: number): number[] {
  const parent = new Map<number, number>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const ppid = ppidOf(Number(name)) // null: exited meanwhile
    if (ppid !== null) parent.set(Number(name), ppid)
  }

  return [...parent.keys()].filter((pid) => {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) if (p === root) return true
    return false
  })
}

/** `pid argv` or `pid environ` of every process whose argv, or (for `uid`'s processes) environment, holds `text`. */
export function processesHolding(text: string, uid: number): string[] {
  const found: string[] = []
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`).includes(text)) found.push(`${pid} argv`)
      const owner = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1])
      if (owner === uid && readFileSync(`/proc/${pid}/environ`).includes(text)) found.push(`${pid} environ`)
    } catch {
      // gone meanwhile
    }
  }

  return found
}
