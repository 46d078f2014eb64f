/**
 * Ask a human before a gated command runs, through channels the agent cannot answer: a GUI dialog (osascript on
 * macOS; zenity or kdialog on Linux when a display is set), a prompt on /dev/tty (opened directly: the
 * agent-controlled stdin is never read), or a program named in the root-owned policy (request JSON on stdin,
 * exit 0 = approve). The chain comes from policy `approvers` (default gui → tty). The first channel that is
 * available answers; a "no" or a timeout is final. No channel at all → 'unavailable' (the launcher denies).
 */
import {spawn as spawnChild} from 'node:child_process'
import {closeSync, constants, existsSync, openSync, writeSync} from 'node:fs'
import {isatty, ReadStream} from 'node:tty'

import type {ApproverSpec} from '../core/policy.js'
import type {ApprovalAnswer, ApprovalRequest, GateDecision, ParsedArgv} from './types.js'

import {checkRootOwned, realTrustFs, type TrustFs} from '../core/trust.js'

export interface SpawnResult {
  /** Exit code, or null when killed (timeout) or when it could not start. */
  code: null | number
  stdout: string
  timedOut: boolean
  /** True when the program could not be started at all. */
  failed: boolean
}

export type SpawnFn = (
  file: string,
  args: string[],
  options: {env: NodeJS.ProcessEnv; input?: string; timeoutMs: number},
) => Promise<SpawnResult>

/** A terminal the approver can talk to: `ask` resolves with the typed line, or null on timeout / end of input. */
export interface Tty {
  ask(question: string, timeoutMs: number): Promise<null | string>
  close(): void
}

export interface ApproverDeps {
  approvers: ApproverSpec[]
  env: NodeJS.ProcessEnv
  platform: NodeJS.Platform
  spawn?: SpawnFn
  /** Opens the controlling terminal; null when there is none. */
  openTty?: () => null | Tty
  exists?: (p: string) => boolean
  trustFs?: TrustFs
  timeoutMs?: number
  warn?: (message: string) => void
}

export const DEFAULT_APPROVAL_TIMEOUT_MS = 60_000

const OSASCRIPT = '/usr/bin/osascript'
const ZENITY = ['/usr/bin/zenity', '/usr/local/bin/zenity']
const KDIALOG = ['/usr/bin/kdialog', '/usr/local/bin/kdialog']

/** The request as a person reads it. */
export function describeRequest(request: ApprovalRequest): string {
  const chain = request.chain.map((p) => `${p.name} (${p.pid})`).join(' ← ')
  return [
    'A program asks to run:',
    `  ${request.command}`,
    `Profile:  ${request.profile}`,
    `Category: ${request.category ?? 'none'}${request.rule ? ` (rule: ${request.rule})` : ''}`,
    `Why:      ${request.reason}`,
    `Endpoint: ${request.endpoint ?? 'AWS (default)'}`,
    `Asked by: ${chain || 'unknown'}`,
    'Approve this one run?',
  ].join('\n')
}

/** What to tell the human when no approval channel exists. */
export function noChannelMessage(request: ApprovalRequest): {message: string; suggestion: string} {
  return {
    message: `"${request.command}" needs your approval (${request.category ?? 'gated'}: ${request.reason}), but no approval channel is available here (no display, no terminal, no approver program)`,
    suggestion: `run it yourself in a terminal: av run -- ${request.command}`,
  }
}

function appleScriptString(text: string): string {
  return `"${text.replaceAll('\\', '\\\\').replaceAll('"', String.raw`\"`)}"`
}

async function askGui(request: ApprovalRequest, deps: Required<Omit<ApproverDeps, 'warn'>>): Promise<ApprovalAnswer> {
  const text = describeRequest(request)
  const seconds = Math.max(1, Math.round(deps.timeoutMs / 1000))
  if (deps.platform === 'darwin') {
    if (!deps.exists(OSASCRIPT)) return 'unavailable'
    const script = `display dialog ${appleScriptString(text)} with title "av" buttons {"Deny", "Approve"} default button "Deny" giving up after ${seconds}`
    const r = await deps.spawn(OSASCRIPT, ['-e', script], {env: deps.env, timeoutMs: deps.timeoutMs + 5000})
    if (r.failed) return 'unavailable'
    return r.code === 0 && r.stdout.includes('button returned:Approve') && !r.stdout.includes('gave up:true')
      ? 'approved'
      : 'denied'
  }

  if (!deps.env.DISPLAY && !deps.env.WAYLAND_DISPLAY) return 'unavailable'
  const zenity = ZENITY.find((p) => deps.exists(p))
  if (zenity) {
    const args = ['--question', '--title=av', `--text=${text}`, '--ok-label=Approve', '--cancel-label=Deny']
    args.push('--no-markup', `--timeout=${seconds}`)
    const r = await deps.spawn(zenity, args, {env: deps.env, timeoutMs: deps.timeoutMs + 5000})
    if (r.failed) return 'unavailable'
    return r.code === 0 ? 'approved' : 'denied'
  }

  const kdialog = KDIALOG.find((p) => deps.exists(p))
  if (kdialog) {
    const r = await deps.spawn(kdialog, ['--title', 'av', '--yesno', text], {env: deps.env, timeoutMs: deps.timeoutMs})
    if (r.failed) return 'unavailable'
    return r.code === 0 && !r.timedOut ? 'approved' : 'denied'
  }

  return 'unavailable'
}

async function askTty(request: ApprovalRequest, deps: Required<Omit<ApproverDeps, 'warn'>>): Promise<ApprovalAnswer> {
  const tty = deps.openTty()
  if (!tty) return 'unavailable'
  try {
    const seconds = Math.round(deps.timeoutMs / 1000)
    const answer = await tty.ask(`\n${describeRequest(request)} [y/N] (${seconds}s) `, deps.timeoutMs)
    return answer !== null && /^y(es)?$/i.test(answer.trim()) ? 'approved' : 'denied'
  } finally {
    tty.close()
  }
}

async function askProgram(
  request: ApprovalRequest,
  program: string,
  deps: Required<Omit<ApproverDeps, 'warn'>> & {warn: (m: string) => void},
): Promise<ApprovalAnswer> {
  const trust = checkRootOwned(program, deps.trustFs)
  if (!trust.ok) {
    deps.warn(`ignoring approver program ${program}: ${trust.path} ${trust.reason}`)
    return 'unavailable'
  }

  const r = await deps.spawn(trust.path, [], {
    env: deps.env,
    input: JSON.stringify(request) + '\n',
    timeoutMs: deps.timeoutMs,
  })
  if (r.failed) {
    deps.warn(`approver program ${program} could not be started`)
    return 'unavailable'
  }

  return r.code === 0 && !r.timedOut ? 'approved' : 'denied'
}

/** Ask the approver chain. One approval covers one run. */
export async function requestApproval(request: ApprovalRequest, deps: ApproverDeps): Promise<ApprovalAnswer> {
  const full = {
    approvers: deps.approvers,
    env: deps.env,
    exists: deps.exists ?? existsSync,
    openTty: deps.openTty ?? openDevTty,
    platform: deps.platform,
    spawn: deps.spawn ?? realSpawn,
    timeoutMs: deps.timeoutMs ?? DEFAULT_APPROVAL_TIMEOUT_MS,
    trustFs: deps.trustFs ?? realTrustFs,
    warn: deps.warn ?? (() => {}),
  }
  // One channel at a time, in order: the chain is sequential by design.
  /* eslint-disable no-await-in-loop */
  for (const spec of deps.approvers) {
    let answer: ApprovalAnswer
    if (spec === 'gui') answer = await askGui(request, full)
    else if (spec === 'tty') answer = await askTty(request, full)
    else answer = await askProgram(request, spec.program, full)
    if (answer !== 'unavailable') return answer
  }
  /* eslint-enable no-await-in-loop */

  return 'unavailable'
}

/** The real spawn seam: no shell, stdin from `input` (or closed), stdout captured, killed after the timeout. */
export const realSpawn: SpawnFn = (file, args, {env, input, timeoutMs}) =>
  new Promise((resolve) => {
    let stdout = ''
    let timedOut = false
    let settled = false
    const done = (r: SpawnResult) => {
      if (!settled) {
        settled = true
        resolve(r)
      }
    }

    const child = spawnChild(file, args, {env, stdio: ['pipe', 'pipe', 'ignore']})
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, timeoutMs)
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk: string) => {
      if (stdout.length < 65_536) stdout += chunk
    })
    child.on('error', () => {
      clearTimeout(timer)
      done({code: null, failed: true, stdout, timedOut})
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      done({code: timedOut ? null : code, failed: false, stdout, timedOut})
    })
    child.stdin.on('error', () => {})
    child.stdin.end(input ?? '')
  })

/**
 * The real terminal seam: /dev/tty opened directly (never stdin). Null when there is no controlling terminal.
 * Read through a tty handle (not a blocking file read), so a timeout ends the wait and the process can exit.
 */
export function openDevTty(terminal = '/dev/tty'): null | Tty {
  let fd: number
  try {
    fd = openSync(terminal, constants.O_RDWR | constants.O_NOCTTY)
    if (!isatty(fd)) {
      closeSync(fd)
      return null
    }
  } catch {
    return null
  }

  let stream: null | ReadStream = null
  let closed = false
  return {
    ask(question, timeoutMs) {
      writeSync(fd, question)
      const input = new ReadStream(fd)
      stream = input
      return new Promise<null | string>((resolve) => {
        let line = ''
        const finish = (value: null | string) => {
          clearTimeout(timer)
          input.removeAllListeners('data')
          input.pause()
          resolve(value)
        }

        const timer = setTimeout(() => {
          writeSync(fd, '\n(no answer: denied)\n')
          finish(null)
        }, timeoutMs)
        input.setEncoding('utf8')
        input.on('data', (chunk) => {
          line += String(chunk)
          const nl = line.search(/[\n\r]/)
          if (nl !== -1) finish(line.slice(0, nl))
        })
        input.on('end', () => finish(null))
        input.on('error', () => finish(null))
      })
    },
    close() {
      if (closed) return
      closed = true
      // Destroying the tty stream closes its fd; close it ourselves only when no stream took it over.
      if (stream) stream.destroy()
      else {
        try {
          closeSync(fd)
        } catch {}
      }
    },
  }
}

/** Shell-quote an argv for display, POSIX style: `aws s3 cp 'a b' s3://x` (words of safe characters stay bare). */
export function quoteCommand(argv: string[]): string {
  return argv
    .map((word) => (/^[\w%+,./:=@-]+$/.test(word) ? word : `'${word.replaceAll("'", String.raw`'\''`)}'`))
    .join(' ')
}

/** The approval request for a gate decision (argv with or without the leading `aws`). */
export function approvalRequestFor(input: {
  argv: string[]
  chain: ApprovalRequest['chain']
  decision: GateDecision
  parsed: ParsedArgv
}): ApprovalRequest {
  const words = input.argv[0] === 'aws' ? input.argv : ['aws', ...input.argv]
  const endpoint = input.parsed.globals['endpoint-url']
  return {
    category: input.decision.category,
    chain: input.chain,
    command: quoteCommand(words),
    endpoint: typeof endpoint === 'string' ? endpoint : null,
    profile: input.decision.profile,
    reason: input.decision.reason,
    rule: input.decision.rule,
  }
}
