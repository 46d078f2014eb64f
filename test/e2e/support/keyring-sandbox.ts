/**
 * Run a command inside its own D-Bus session with an unlocked gnome-keyring, the headless recipe:
 * `dbus-run-session -- sh -c 'echo -n PW | gnome-keyring-daemon --unlock --components=secrets; exec CMD'`.
 * The keyring file lives under the given HOME, so items persist from one call to the next with the same HOME.
 * Nothing of the caller's session bus, XDG dirs or AWS_* variables leaks in.
 */
import {type ChildProcess, spawn} from 'node:child_process'

import {keychainPolicyFile} from '../../fakes/keychain-policy.js'

export const KEYRING_PASSWORD = 'av-test-keyring'

// The daemon forks and may not own its bus name yet when --unlock returns; a client calling in that gap gets a
// second, locked daemon started by D-Bus activation. Wait (up to ~2 s) until the unlocked one answers.
const UNLOCK = [
  `printf %s '${KEYRING_PASSWORD}' | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1`,
  'for i in $(seq 40); do',
  '  dbus-send --session --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q true && break',
  '  sleep 0.05',
  'done',
  'exec "$@"',
].join('\n')

export interface RunResult {
  code: null | number
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface SandboxOptions {
  /** Extra environment (wins over the defaults). */
  env?: NodeJS.ProcessEnv
  /** Run without any session bus (to see how a command fails when the keychain cannot be reached). */
  noBus?: boolean
  cwd?: string
}

let keychainPolicy: string | undefined

/**
 * The environment a sandboxed command sees: the caller's, minus bus/XDG/AWS, with HOME replaced, and a root-owned
 * keychain-mode policy in AV_POLICY (these suites test keychain mode, whatever /etc/av/policy.json the machine has).
 */
export function sandboxEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(AWS_|DBUS_|XDG_|GNOME_KEYRING)/.test(k)) continue
    env[k] = v
  }

  keychainPolicy ??= keychainPolicyFile()
  return {...env, AV_POLICY: keychainPolicy, HOME: home, ...extra}
}

/** Start `argv` in a keyring session (or with no bus at all). The child is dbus-run-session, not `argv[0]`. */
export function spawnInKeyring(home: string, argv: string[], options: SandboxOptions = {}): ChildProcess {
  const env = sandboxEnv(home, options.env)
  const [cmd, args] = options.noBus
    ? [argv[0]!, argv.slice(1)]
    : ['dbus-run-session', ['--', 'sh', '-c', UNLOCK, 'sh', ...argv]]
  return spawn(cmd, args, {cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe']})
}

export function runInKeyring(home: string, argv: string[], options: SandboxOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawnInKeyring(home, argv, options)
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', (d) => {
      stdout += d
    })
    child.stderr!.on('data', (d) => {
      stderr += d
    })
    child.on('error', reject)
    child.on('close', (code, signal) => {
      // dbus-daemon complains about fd limits when run unprivileged-in-a-container; it is noise.
      resolve({code, signal, stdout, stderr: stderr.replaceAll(/^dbus-daemon\[\d+].*\n/gm, '')})
    })
  })
}
