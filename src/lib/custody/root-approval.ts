/**
 * How the root launcher gets a held run approved. The one proof of a person that an agent running as the user
 * cannot produce is the user's own authentication through PAM, asked by root: sudo runs av's password-guarded
 * entry (`<custody entry>-auth approve <id>`, `timestamp_timeout=0`: the password every time), which records the
 * approval for that one run. Two ways to reach it, raced:
 *
 *   - on this run's terminal: root starts that sudo as the user, so sudo asks the password right here;
 *   - from any other terminal: `av approve <id>` (the line printed on stderr names it), which runs the same sudo.
 *
 * A root-configured approver program (policy `approvers`) counts too: the administrator chose it. It does not
 * count for an elevated run, which gets the durable key: that needs the password. A `y` on a tty or a click in a
 * dialog never counts here: an agent drives ptys and windows.
 */
import type {ChildProcess} from 'node:child_process'

import {closeSync, constants, openSync} from 'node:fs'

import type {Clock} from '../core/clock.js'
import type {ApprovalAnswer, ApprovalRequest} from '../gate/types.js'
import type {Output} from '../world/process-world.js'
import type {RootApprovalInput, UserAccount} from './root-launcher.js'

import {SEALED_PATH} from '../aws/sealed-runtime.js'
import {requestApproval} from '../gate/approver.js'
import {approvalMatches} from './run-record.js'
import {SUDO_EXE} from './sudo-caller.js'

export interface RootApprovalWorld {
  clock: Clock
  stderr: Output
  /** `<custody entry>-auth`, which sudo runs only after the user's password. */
  authEntry: string
  /** Whether this run has a controlling terminal a person can type a password on. */
  hasTerminal(): boolean
  /** Start sudo's password prompt as the user, on the inherited terminal. */
  startPrompt(argv: string[], user: UserAccount): ChildProcess
  sleep(ms: number): Promise<void>
  /** Run the policy's approver programs (root-owned, the administrator's choice). */
  askPrograms(request: ApprovalRequest, programs: Array<{program: string}>): Promise<ApprovalAnswer>
}

/** The request as root shows it before asking, one fact a line. */
export function describeHeld(request: ApprovalRequest, id: string, elevated: boolean, seconds: number): string {
  const chain = request.chain.map((p) => `${p.name} (${p.pid})`).join(' ← ')
  return [
    `av: this command is held until you approve it with your password:`,
    `av:   ${request.command}`,
    `av:   profile ${request.profile}; ${request.category ?? 'gated'}${request.rule ? ` (${request.rule})` : ''}: ${request.reason}`,
    `av:   endpoint ${request.endpoint ?? 'AWS (default)'}; asked by ${chain || 'unknown'}`,
    ...(elevated ? ['av:   it runs with your durable AWS key (not a session)'] : []),
    `av: approval needed: run \`av approve ${id}\` in your own terminal (expires in ${seconds} s)`,
  ].join('\n')
}

/** The answer for one held run. Never throws for a person's no; resolves 'unavailable' on timeout. */
export async function askRootApproval(input: RootApprovalInput, world: RootApprovalWorld): Promise<ApprovalAnswer> {
  const {binding, elevated, policy, request, runs, timeoutMs, user} = input
  const programs = policy.approvers.filter((a): a is {program: string} => typeof a === 'object')
  if (!elevated && programs.length > 0) {
    const answer = await world.askPrograms(request, programs)
    if (answer !== 'unavailable') return answer
  }

  const created = world.clock.now()
  const pending = runs.createPending({binding, created, elevated, expires: created + timeoutMs, request})
  let prompt: ChildProcess | null = null
  let promptDone = false
  try {
    world.stderr.write(describeHeld(request, pending.id, elevated, Math.round(timeoutMs / 1000)) + '\n')
    if (world.hasTerminal()) {
      world.stderr.write('av: or type your password here:\n')
      prompt = world.startPrompt(
        [SUDO_EXE, '-p', `[av] password for %p to approve ${pending.id}: `, world.authEntry, 'approve', pending.id],
        user,
      )
      prompt.once('exit', () => {
        promptDone = true
      })
      prompt.once('error', () => {
        promptDone = true
      })
    }

    for (;;) {
      const answer = runs.readAnswer(pending.id)
      if (answer) return approvalMatches(answer, binding) ? 'approved' : 'denied'
      // The prompt on this terminal ended without recording an approval: the password was not given.
      if (prompt && promptDone) {
        const last = runs.readAnswer(pending.id)
        return last && approvalMatches(last, binding) ? 'approved' : 'denied'
      }

      if (world.clock.now() >= pending.expires) return 'unavailable'
      await world.sleep(100) // eslint-disable-line no-await-in-loop
    }
  } finally {
    // An approval given on this terminal: let root's approve verb finish (its audit line comes after the answer).
    if (prompt && runs.readAnswer(pending.id)) {
      // promptDone is set by the prompt's exit event while this waits.
      // eslint-disable-next-line no-unmodified-loop-condition
      for (let waited = 0; !promptDone && waited < PROMPT_GRACE_MS; waited += 50) await world.sleep(50) // eslint-disable-line no-await-in-loop
    }

    if (prompt && !promptDone) prompt.kill('SIGTERM')
    runs.removePending(pending.id)
  }
}

/** How long a password prompt that already answered may take to exit before it is ended. */
const PROMPT_GRACE_MS = 3000

/** Does this process have a controlling terminal? (Opened without making it one, and closed at once.) */
export function hasControllingTerminal(): boolean {
  try {
    closeSync(openSync('/dev/tty', constants.O_RDWR | constants.O_NOCTTY))
    return true
  } catch {
    return false
  }
}

/** The environment sudo's password prompt runs with: a fixed PATH, the terminal and locale. */
export function promptEnv(env: Record<string, string>): Record<string, string> {
  const keep: Record<string, string> = {PATH: SEALED_PATH}
  for (const name of ['TERM', 'LANG', 'LC_ALL', 'LC_MESSAGES']) if (env[name] !== undefined) keep[name] = env[name]
  return keep
}

/** The policy's approver programs, run by root with an empty environment. */
export function askProgramsAsRoot(
  request: ApprovalRequest,
  programs: Array<{program: string}>,
): Promise<ApprovalAnswer> {
  return requestApproval(request, {approvers: programs, env: {}, platform: 'linux'})
}
