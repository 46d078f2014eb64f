/**
 * An isolated desktop-less session for one unprivileged test user: a temp HOME (0700), its own XDG_RUNTIME_DIR,
 * a D-Bus session bus from `dbus-run-session` and a gnome-keyring daemon unlocked with a password on stdin. The
 * tests run as root (CI does); the user plays the victim, and the "agent" attacking av is code running as that
 * same user, as the threat model says. Commands run inside the session with `sandbox.run(...)`. (For a one-shot
 * keyring session as root around a single command, see keyring-sandbox.ts from the migrate work.)
 *
 * Each sandbox has a user of its own (`avtest-<hex>`, a system account without a login shell) whose home in the
 * account database *is* the sandbox's HOME: av keeps the audit trail under the home getpwuid names, never under
 * $HOME, so a shared user would make every suite write one trail. The sandbox deletes its user when it stops;
 * leftovers of a killed run (home gone, no process) are swept when the next one is made. `ensureTestUser` still
 * gives the long-lived shared `avtest` (home /nonexistent) for tests that need no av state.
 */
import {spawn, spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import path from 'node:path'

export async function sleep(ms: number): Promise<void> {
  await new Promise<void>((resolve) => {
    setTimeout(resolve, ms)
  })
}

export const TEST_USER = 'avtest'

export interface User {
  name: string
  uid: number
  gid: number
}

export interface RunOptions {
  /** Extra environment (merged over the base environment; `undefined` removes a variable). */
  env?: Record<string, string | undefined>
  /** Replace the base environment entirely. */
  cleanEnv?: boolean
  input?: Buffer | string
  cwd?: string
  timeoutMs?: number
}

export interface RunResult {
  code: null | number
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  /** Milliseconds from spawn to exit. */
  ms: number
}

function lookupUser(name: string): User | null {
  const r = spawnSync('id', ['-u', name], {encoding: 'utf8'})
  if (r.status !== 0) return null
  const g = spawnSync('id', ['-g', name], {encoding: 'utf8'})
  return {name, uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim())}
}

/** The unprivileged test user, created (system account, no home, no shell) when missing. Needs root. */
export function ensureTestUser(name = TEST_USER): User {
  if (process.getuid?.() !== 0) throw new Error('the e2e suite runs as root (it creates an unprivileged test user)')
  const found = lookupUser(name)
  if (found) return found
  const r = spawnSync(
    'useradd',
    [
      '--system',
      '--user-group',
      '--no-create-home',
      '--home-dir',
      '/nonexistent',
      '--shell',
      '/usr/sbin/nologin',
      name,
    ],
    {encoding: 'utf8'},
  )
  // Another suite may have created it in the meantime (exit 9: already exists).
  if (r.status !== 0 && r.status !== 9) throw new Error(`useradd ${name} failed: ${r.stderr}`)
  const user = lookupUser(name)
  if (!user) throw new Error(`user ${name} missing after useradd`)
  return user
}

const OWN_USER_PREFIX = 'avtest-'

/** Pids of every process running as `uid` (root reads every /proc/<pid>/status). */
function pidsOf(uid: number): number[] {
  const pids: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const uidLine = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${name}/status`, 'utf8'))
      if (Number(uidLine?.[1]) === uid) pids.push(Number(name))
    } catch {
      // The process exited meanwhile.
    }
  }

  return pids
}

/** Own sandbox users a killed run left behind: their home is gone and nothing runs as them. */
function sweepStaleUsers(): void {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const fields = line.split(':')
    const [name, uid, home] = [fields[0], fields[2], fields[5]]
    if (!name?.startsWith(OWN_USER_PREFIX) || !home || existsSync(home)) continue
    if (pidsOf(Number(uid)).length === 0) spawnSync('userdel', [name], {encoding: 'utf8'})
  }
}

/** A new unprivileged user whose home in the account database is `home` (which the caller creates). Needs root. */
export function createTestUser(home: string): User {
  if (process.getuid?.() !== 0) throw new Error('the e2e suite runs as root (it creates an unprivileged test user)')
  sweepStaleUsers()
  const name = `${OWN_USER_PREFIX}${randomBytes(4).toString('hex')}`
  const r = spawnSync(
    'useradd',
    ['--system', '--user-group', '--no-create-home', '--home-dir', home, '--shell', '/usr/sbin/nologin', name],
    {encoding: 'utf8'},
  )
  if (r.status !== 0) throw new Error(`useradd ${name} failed: ${r.stderr}`)
  const user = lookupUser(name)
  if (!user) throw new Error(`user ${name} missing after useradd`)
  return user
}

/** End every process of `user` and delete it (and its group). */
export function removeTestUser(user: User): void {
  for (const pid of pidsOf(user.uid)) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // gone already
    }
  }

  for (let attempt = 0; attempt < 50; attempt++) {
    const r = spawnSync('userdel', [user.name], {encoding: 'utf8'})
    // 8: still in use (a killed process not reaped yet); 6: already gone.
    if (r.status !== 8) return
    spawnSync('sleep', ['0.1'])
  }
}

export interface Started {
  pid: number
  result: Promise<RunResult>
}

/** Start a command as `user` (null = root, as this process is); `result` resolves on exit, never rejects. */
export function startAs(user: null | User, argv: string[], options: RunOptions & {env: NodeJS.ProcessEnv}): Started {
  const started = Date.now()
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(options.env)) if (v !== undefined) env[k] = v
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: options.cwd ?? '/',
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(user ? {gid: user.gid, uid: user.uid} : {}),
  })
  const result = new Promise<RunResult>((resolve) => {
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d
    })
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d
    })
    child.stdin.on('error', () => {})
    child.stdin.end(options.input ?? '')
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000)
    child.on('error', (error) => {
      clearTimeout(timer)
      resolve({
        code: null,
        signal: null,
        stdout,
        stderr: `${stderr}spawn failed: ${error.message}`,
        ms: Date.now() - started,
      })
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({code, signal, stdout, stderr, ms: Date.now() - started})
    })
  })
  return {pid: child.pid ?? 0, result}
}

/** Run a command as `user` (null = root) to its end. Never throws for a non-zero exit. */
export async function runAs(user: null | User, argv: string[], options: RunOptions & {env: NodeJS.ProcessEnv}) {
  return startAs(user, argv, options).result
}

/** Pids of `uid`'s processes whose environment has XDG_RUNTIME_DIR=`runtimeDir` (root reads any environ). */
function sessionPids(uid: number, runtimeDir: string): number[] {
  const marker = `XDG_RUNTIME_DIR=${runtimeDir}\0`
  const pids: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const status = readFileSync(`/proc/${name}/status`, 'utf8')
      const uidLine = /^Uid:\s+(\d+)/m.exec(status)
      if (Number(uidLine?.[1]) !== uid) continue
      if (readFileSync(`/proc/${name}/environ`, 'latin1').includes(marker)) pids.push(Number(name))
    } catch {
      // The process exited meanwhile.
    }
  }

  return pids
}

export class KeyringSandbox {
  /** Root-owned 0755 temp dir holding everything below. */
  readonly base: string
  /** The user's HOME (0700, owned by the user); for a sandbox's own user, also its home in the account database. */
  readonly home: string
  readonly runtimeDir: string
  readonly user: User
  busAddress = ''
  private readonly ownsUser: boolean
  private session?: ReturnType<typeof spawn>
  private sleeperPid = 0

  /** Without `user`, the sandbox makes a user of its own (deleted by `stop`) whose home is this sandbox's HOME. */
  constructor(
    user?: User,
    readonly password = 'av-e2e-keyring-password',
  ) {
    this.base = mkdtempSync('/tmp/av-e2e-')
    chmodSync(this.base, 0o755)
    this.user = user ?? createTestUser(path.join(this.base, 'home'))
    this.ownsUser = user === undefined
    this.home = this.userDir('home')
    this.runtimeDir = this.userDir('run')
  }

  /** The environment commands get inside the session. */
  get env(): Record<string, string> {
    return {
      HOME: this.home,
      USER: this.user.name,
      LOGNAME: this.user.name,
      PATH: '/usr/local/bin:/usr/bin:/bin',
      LANG: 'C.UTF-8',
      XDG_RUNTIME_DIR: this.runtimeDir,
      DBUS_SESSION_BUS_ADDRESS: this.busAddress,
    }
  }

  async start(): Promise<this> {
    // The daemon forks and may not own its bus name yet when --unlock returns; a client calling in that gap would
    // get a second, locked daemon through D-Bus activation. Wait until the unlocked one answers.
    const script = [
      'printf %s "$AV_E2E_KEYRING_PASSWORD" | gnome-keyring-daemon --unlock --components=secrets >/dev/null || exit 1',
      'for i in $(seq 100); do',
      '  dbus-send --session --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.NameHasOwner \\',
      '    string:org.freedesktop.secrets 2>/dev/null | grep -q true && break',
      '  sleep 0.05',
      'done',
      'echo "$$ $DBUS_SESSION_BUS_ADDRESS"',
      'exec sleep 3600',
    ].join('\n')
    const env: Record<string, string> = {...this.env, AV_E2E_KEYRING_PASSWORD: this.password}
    delete env.DBUS_SESSION_BUS_ADDRESS
    const child = spawn('dbus-run-session', ['--', 'sh', '-c', script], {
      cwd: this.home,
      env,
      gid: this.user.gid,
      stdio: ['ignore', 'pipe', 'pipe'],
      uid: this.user.uid,
    })
    this.session = child
    let stderr = ''
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d
    })
    const line = await new Promise<string>((resolve, reject) => {
      let out = ''
      const timer = setTimeout(() => reject(new Error(`keyring session did not start: ${stderr}`)), 20_000)
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d
        if (out.includes('\n')) {
          clearTimeout(timer)
          resolve(out.split('\n')[0]!)
        }
      })
      child.on('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`keyring session exited (${code}): ${stderr}`))
      })
    })
    const [pid, address] = line.split(' ')
    this.sleeperPid = Number(pid)
    this.busAddress = address ?? ''
    if (!this.busAddress.startsWith('unix:')) throw new Error(`no bus address from the keyring session: ${line}`)
    return this
  }

  /** Run argv as the test user inside the session. */
  async run(argv: string[], options: RunOptions = {}): Promise<RunResult> {
    const env = options.cleanEnv ? {...options.env} : {...this.env, ...options.env}
    return runAs(this.user, argv, {...options, cwd: options.cwd ?? this.home, env})
  }

  /** Start argv as the test user inside the session without waiting for it. */
  spawn(argv: string[], options: RunOptions = {}): Started {
    const env = options.cleanEnv ? {...options.env} : {...this.env, ...options.env}
    return startAs(this.user, argv, {...options, cwd: options.cwd ?? this.home, env})
  }

  /** Run a shell script as the test user inside the session. */
  async sh(script: string, options: RunOptions = {}): Promise<RunResult> {
    return this.run(['/bin/sh', '-c', script], options)
  }

  /** A directory under `base` owned by the user, mode 0700. */
  userDir(name: string): string {
    const dir = path.join(this.base, name)
    mkdirSync(dir, {mode: 0o700, recursive: true})
    chownSync(dir, this.user.uid, this.user.gid)
    chmodSync(dir, 0o700)
    return dir
  }

  /** Stop the bus and the keyring daemon, end every process left in this session, remove the temp dir. */
  async stop(): Promise<void> {
    const {session} = this
    if (session && session.exitCode === null && session.signalCode === null) {
      const exited = new Promise<void>((resolve) => {
        session.once('exit', () => resolve())
      })
      try {
        if (this.sleeperPid) process.kill(this.sleeperPid, 'SIGTERM')
        else session.kill('SIGTERM')
      } catch {
        session.kill('SIGTERM')
      }

      await Promise.race([exited, sleep(5000)])
    }

    for (const pid of sessionPids(this.user.uid, this.runtimeDir)) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // gone already
      }
    }

    if (this.ownsUser) removeTestUser(this.user)
    rmSync(this.base, {force: true, recursive: true})
  }
}

/** A sandbox for a user of its own (see KeyringSandbox), or for `user` when given (e.g. a second session of it). */
export async function startKeyringSandbox(user?: User): Promise<KeyringSandbox> {
  const sandbox = new KeyringSandbox(user)
  try {
    return await sandbox.start()
  } catch (error) {
    await sandbox.stop()
    throw error
  }
}
