/**
 * Asking a human for an MFA code, through the approver channels of the root policy (`approvers`), in order:
 * a GUI entry dialog (zenity/kdialog with a display, osascript on macOS), the controlling terminal (/dev/tty),
 * or a root-configured program. Never the helper's stdin or stderr: those belong to the AWS CLI.
 *
 * Program protocol: the program (root-owned, like an approver program: see approver.ts) gets one JSON line on
 * stdin, {"kind":"mfa-code","profile","mfaSerial","reason"}, and prints the code on stdout with exit 0; exit 1
 * or an empty answer means the human declined; anything else means unavailable. An approval request (approver.ts)
 * has no `kind`, so one program can serve both.
 */
import {closeSync, constants, existsSync, openSync, readSync, writeSync} from 'node:fs'
import {createRequire} from 'node:module'

import type {ApproverSpec} from '../core/policy.js'
import type {CodeRequest} from './session-types.js'

import {AvError} from '../core/errors.js'
import {checkRootOwned, realTrustFs, type TrustFs} from '../core/trust.js'

export interface ProgramResult {
  /** Exit status, or null when the program could not be started or was killed. */
  status: null | number
  stdout: string
}

export interface CodePromptDeps {
  approvers: ApproverSpec[]
  env: NodeJS.ProcessEnv
  platform: NodeJS.Platform
  /** Runs argv without a shell, feeding `input` on stdin. */
  run?: (argv: string[], options: {env: NodeJS.ProcessEnv; input: string}) => Promise<ProgramResult>
  /** Asks one line on the controlling terminal; null when there is none. */
  askTty?: (prompt: string) => null | string
  exists?: (file: string) => boolean
  trustFs?: TrustFs
}

type Answer = {code: string} | {status: 'denied' | 'unavailable'}

const TIMEOUT_MS = 120_000

export function runProgram(argv: string[], options: {env: NodeJS.ProcessEnv; input: string}): Promise<ProgramResult> {
  // Loaded on first use: the helper imports this module on every release, and child_process costs ~5 ms to load.
  const {execFile} = createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process')
  return new Promise((resolve) => {
    const child = execFile(
      argv[0]!,
      argv.slice(1),
      {encoding: 'utf8', env: options.env, maxBuffer: 64 * 1024, timeout: TIMEOUT_MS},
      (error, stdout) => {
        const status = error ? (typeof error.code === 'number' ? error.code : null) : 0
        resolve({status, stdout: String(stdout)})
      },
    )
    child.stdin?.end(options.input)
  })
}

/**
 * Reads one line from /dev/tty, or from `terminal` (root custody asks on the user's own terminal device), echo on:
 * a TOTP code is not a secret worth hiding from the screen.
 */
export function askTty(prompt: string, terminal = '/dev/tty'): null | string {
  let fd: number
  try {
    // O_NOCTTY: root asking on a user's terminal must never make it root's controlling terminal.
    fd = openSync(terminal, constants.O_RDWR | constants.O_NOCTTY)
  } catch {
    return null
  }

  try {
    writeSync(fd, prompt)
    const buffer = Buffer.alloc(256)
    let line = ''
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, null)
      if (n === 0) break
      line += buffer.toString('utf8', 0, n)
      if (line.includes('\n')) break
    }

    return line.split('\n')[0]!.trim()
  } catch {
    return null
  } finally {
    closeSync(fd)
  }
}

/** Variables a GUI or approver program needs; nothing that could carry a credential. */
function channelEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {PATH: '/usr/bin:/bin'}
  for (const key of ['DISPLAY', 'WAYLAND_DISPLAY', 'XAUTHORITY', 'DBUS_SESSION_BUS_ADDRESS', 'LANG', 'HOME']) {
    if (env[key] !== undefined) out[key] = env[key]
  }

  return out
}

function code(stdout: string): Answer {
  const line = stdout.trim().split('\n')[0]?.trim() ?? ''
  return line ? {code: line} : {status: 'denied'}
}

async function ask(spec: ApproverSpec, request: CodeRequest, deps: Required<CodePromptDeps>): Promise<Answer> {
  const text = `${request.reason} (device ${request.mfaSerial})`
  if (spec === 'tty') {
    const line = deps.askTty(`av: ${text}: `)
    if (line === null) return {status: 'unavailable'}
    return line ? {code: line} : {status: 'denied'}
  }

  if (spec === 'gui') {
    let argv: null | string[] = null
    if (deps.platform === 'darwin' && deps.exists('/usr/bin/osascript')) {
      const quoted = JSON.stringify(text)
      argv = [
        '/usr/bin/osascript',
        '-e',
        `display dialog ${quoted} default answer "" with title "av" buttons {"Cancel", "OK"} default button "OK"`,
        '-e',
        'text returned of result',
      ]
    } else if (deps.platform !== 'darwin' && (deps.env.DISPLAY || deps.env.WAYLAND_DISPLAY)) {
      if (deps.exists('/usr/bin/zenity')) argv = ['/usr/bin/zenity', '--entry', '--title=av', `--text=${text}`]
      else if (deps.exists('/usr/bin/kdialog')) argv = ['/usr/bin/kdialog', '--title', 'av', '--inputbox', text]
    }

    if (!argv) return {status: 'unavailable'}
    const result = await deps.run(argv, {env: channelEnv(deps.env), input: ''})
    if (result.status === 0) return code(result.stdout)
    return result.status === 1 ? {status: 'denied'} : {status: 'unavailable'}
  }

  // The policy is root-owned, but the program it names must be too, or anyone could answer through it.
  const trust = checkRootOwned(spec.program, deps.trustFs)
  if (!trust.ok) return {status: 'unavailable'}
  const input = JSON.stringify({
    kind: 'mfa-code',
    mfaSerial: request.mfaSerial,
    profile: request.profile,
    reason: request.reason,
  })
  const result = await deps.run([trust.path], {env: channelEnv(deps.env), input: input + '\n'})
  if (result.status === 0) return code(result.stdout)
  return result.status === 1 ? {status: 'denied'} : {status: 'unavailable'}
}

/**
 * The MFA code from the first approver channel that can ask. A human who declines ends it (no further channel
 * is tried); no channel at all is a refusal that says how to get one.
 */
export async function requestCode(request: CodeRequest, deps: CodePromptDeps): Promise<string> {
  const full: Required<CodePromptDeps> = {
    askTty,
    exists: existsSync,
    run: runProgram,
    trustFs: realTrustFs,
    ...deps,
  } as Required<CodePromptDeps>
  for (const spec of deps.approvers) {
    // eslint-disable-next-line no-await-in-loop -- channels are tried one after another, in policy order
    const answer = await ask(spec, request, full)
    if ('code' in answer) return answer.code
    if (answer.status === 'denied') {
      throw new AvError('denied', `no MFA code was given for profile ${request.profile}`, {
        reason: 'mfa-declined',
        suggestion: 'Run the command again and enter the current code from the MFA device.',
      })
    }
  }

  throw new AvError('refused', `profile ${request.profile} needs an MFA code and no approver channel can ask for it`, {
    reason: 'mfa-unavailable',
    suggestion:
      'Run the command from a terminal (/dev/tty) or a desktop session, or name an approver program in the root policy (`approvers`).',
  })
}
