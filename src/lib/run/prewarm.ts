/**
 * The AWS CLI, started while av decides (Python runtimes). Importing the CLI's modules is most of a plain `aws`
 * call (~520 of ~780 ms here), and it depends neither on the command nor on the run or its credentials. So the
 * launcher starts the CLI's interpreter first, and the interpreter imports the CLI and then waits on fd 3 for what
 * to run, while the launcher loads, gates and asks for approval:
 *   - custody: the root launcher's entry script (install-custody.ts) starts it even before Node, as the user, on a
 *     FIFO in the user's root-only run directory, and the launcher adopts it (adopted-child.ts); otherwise (the
 *     first run after a boot, before that directory exists) root-launch.ts starts it, on a socket pair, before it
 *     loads the launcher itself;
 *   - keychain mode: for a command the gate allows, the user's launcher (run/launcher.ts) starts it on a socket pair
 *     with the run's sealed environment (token included) as soon as it has minted the token, before it records the
 *     gate's decision; a held command's CLI starts only once approved, as before.
 * Only after the gate's record (and the approval) does the launcher send the run's argv and sealed environment
 * there, as one line; for a refusal, a denial or any error it kills the waiting interpreter, which has then run
 * nothing but the CLI's own imports. One whose launcher dies exits 125 (end of file, or a new parent).
 *
 * Nothing of the trust model moves. In custody the interpreter is custody's execute-only copy (non-dumpable: the
 * user cannot trace it or read its memory, fds or environ), started as the user by root, the child of the root
 * launcher as before; the release checks it exactly as before, its argv (this fixed one) included. fd 3 is held
 * only by the launcher and that process (a socket pair cannot be opened through /proc; a FIFO lives in a root-only
 * directory). In keychain mode it is the user's own process, like the CLI the launcher started before: what could
 * enter one (a tracer, which the helper refuses) could enter the other. Before the run is handed over it ignores
 * SIGINT and SIGQUIT when started as a shell's background job; after it Python's own handlers are back, as in a
 * CLI started directly.
 */
import {spawn as spawnChild} from 'node:child_process'

import type {RunningChild} from '../core/relay.js'

/**
 * What the waiting interpreter runs. It keeps what the CLI's imports put in the environment (awscli sets
 * AWS_DATA_PATH), takes root's environment and argv in place of its start-up ones, and runs the CLI's script as
 * `__main__`, exactly as `python3 -I <script> <args>` would (same sys.path under -I, same exit code). Started with
 * no fd 3 (by hand, with the argv copied from `ps`), it is just that: the script with the arguments it was given.
 */
export const PREWARM_PYTHON = [
  'import os, sys',
  'try:',
  '    os.fstat(3)',
  'except OSError:',
  '    sys.argv = sys.argv[1:]',
  'else:',
  '    import select, signal',
  '    parent = os.getppid()',
  '    start = dict(os.environ)',
  '    try:',
  '        import awscli.clidriver',
  '    except Exception:',
  '        pass',
  '    added = {k: v for k, v in os.environ.items() if start.get(k) != v}',
  '    data = b""',
  String.raw`    while not data.endswith(b"\n"):`,
  '        if not select.select([3], [], [], 1)[0]:',
  '            if os.getppid() != parent:',
  '                os._exit(125)',
  '            continue',
  '        chunk = os.read(3, 65536)',
  '        if not chunk:',
  '            os._exit(125)',
  '        data += chunk',
  '    os.close(3)',
  '    import json, time',
  '    go = json.loads(data)',
  '    signal.signal(signal.SIGINT, signal.default_int_handler)',
  '    signal.signal(signal.SIGQUIT, signal.SIG_DFL)',
  '    os.environ.clear()',
  '    os.environ.update(go["env"])',
  '    os.environ.update(added)',
  '    time.tzset()',
  '    sys.argv = go["argv"]',
  'import runpy',
  'runpy.run_path(sys.argv[0], run_name="__main__")',
  '',
].join('\n')

/** The PATH the waiting interpreter starts with; the run's sealed environment replaces it at the hand-over. */
export const STARTUP_PATH = '/usr/bin:/bin'

/** A Python interpreter by name (Debian's python3, python3.11, custody's copy aws-python3). */
const PYTHON = /(?:^|-)python3(?:\.\d+)?$/

/** The variables the interpreter needs at start-up: its locale decides stdio's encoding, for good. */
const STARTUP_ENV = /^(?:LANG|LC_[A-Z]+|TZ)$/

/**
 * The waiting interpreter's argv for a runtime `python3 [-flags…] <script>` and the user's arguments: the same
 * interpreter and flags, the prewarm program, then the script and the arguments as the user gave them (what `ps`
 * shows; root sends the arguments it gated, which are the same but for a pinned --cli-input-* file). null for any
 * other runtime (a frozen `aws` binary): it starts as before.
 */
export function prewarmArgv(runtime: readonly string[], args: readonly string[] = []): null | string[] {
  const [python, ...rest] = runtime
  const script = rest.at(-1)
  const flags = rest.slice(0, -1)
  if (!python || !PYTHON.test(python.split('/').pop()!) || !script?.startsWith('/')) return null
  // -I keeps the user's working directory and PYTHON* variables out of sys.path, as in the run it stands for.
  if (
    !flags.includes('-I') ||
    !flags.every((flag) => /^-[A-Za-z]+$/.test(flag)) ||
    flags.some((f) => f.includes('c'))
  ) {
    return null
  }

  return [python, ...flags, '-c', PREWARM_PYTHON, script, ...args]
}

/** The runtime a waiting interpreter's argv stands for; null unless it is this version's prewarm argv. */
export function runtimeOfPrewarm(argv: readonly string[]): null | string[] {
  const at = argv.indexOf('-c')
  if (at < 1 || argv[at + 1] !== PREWARM_PYTHON || argv.length < at + 3) return null
  const runtime = [...argv.slice(0, at), argv[at + 2]!]
  return prewarmArgv(runtime) ? runtime : null
}

/** The launch variables the interpreter starts with: locale and time zone. */
export function isStartupVariable(name: string): boolean {
  return STARTUP_ENV.test(name)
}

/** What the launcher needs of the waiting process: a ChildProcess, or an adopted one (adopted-child.ts). */
export type WaitingChild = RunningChild & {readonly pid?: number}

export interface Prewarmed {
  /** The runtime it stands for: used only if the launcher resolves the very same one. */
  runtime: string[]
  /** Its own argv: what the run record binds and the release checks. */
  argv: string[]
  /** The ids it runs as. */
  uid: number
  gid: number
  child: WaitingChild
  /** Write the run's one line to its fd 3. */
  send(line: string): void
}

/** The waiting interpreters already handed a run or killed: each is either, once. */
const settled = new WeakSet<Prewarmed>()

/** Whether it is still there, waiting: started (it has a pid), neither exited nor killed. */
export function isWaiting(prewarmed: Prewarmed): boolean {
  const {child} = prewarmed
  return child.pid !== undefined && child.exitCode === null && child.signalCode === null && !settled.has(prewarmed)
}

/** Hand the run over: the CLI's arguments and the sealed environment, as one line. */
export function handOff(prewarmed: Prewarmed, run: {args: string[]; env: Record<string, string>}): void {
  if (settled.has(prewarmed)) throw new Error('this waiting interpreter was handed a run or killed already')
  settled.add(prewarmed)
  const script = prewarmed.runtime.at(-1)!
  prewarmed.send(JSON.stringify({argv: [script, ...run.args], env: run.env}) + '\n')
}

/** A waiting interpreter that will not be used runs nothing: killed before it reads a byte of a run. */
export function discard(prewarmed: null | Prewarmed | undefined): void {
  if (!prewarmed || settled.has(prewarmed)) return
  settled.add(prewarmed)
  if (prewarmed.child.exitCode === null && prewarmed.child.signalCode === null) prewarmed.child.kill('SIGKILL')
}

/**
 * Start the waiting interpreter as `argv` (prewarmArgv of `runtime`) on a socket pair, with exactly `env`: as `ids`
 * (root starting it for the sudo caller), else as this process's own user. A start that fails shows as a child
 * that is not waiting (isWaiting): the launcher then starts the CLI itself.
 */
export function startPrewarm(
  argv: string[],
  runtime: readonly string[],
  options: {env: Record<string, string>; ids?: {gid: number; uid: number}},
): Prewarmed {
  const child = spawnChild(argv[0]!, argv.slice(1), {
    env: options.env,
    stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
    ...options.ids,
  })
  child.on('error', () => {})
  const fd3 = child.stdio[3] as NodeJS.WritableStream | null
  fd3?.on('error', () => {})
  const ids = options.ids ?? {gid: process.getgid!(), uid: process.getuid!()}
  return {argv, child, ...ids, runtime: [...runtime], send: (line) => fd3?.end(line)}
}
