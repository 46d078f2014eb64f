/**
 * The user's side of custody mode: how av's launcher, helper, migrate, restore and status talk to the root-owned
 * custody entry point, as `/usr/bin/sudo -n <entry> <verb> …` with data on stdin (argv, which every process of the
 * user can read, carries at most profile names), or as `/usr/bin/sudo <entry>-auth <verb>` where sudo first asks
 * the user's password (the verbs that hand a durable key out). The entry comes from the root-owned policy
 * (`custody.entry`, written by `sudo av install`) and must itself pass the trust rule before it is run.
 */
import {spawn} from 'node:child_process'
import {readFileSync} from 'node:fs'

import type {SignInPrompt} from '../aws/sso-client.js'
import type {Policy} from '../core/policy.js'
import type {ApprovalRequest} from '../gate/types.js'
import type {SecretStore} from '../store/secret-store.js'

import {AvError, isErrorCode} from '../core/errors.js'
import {isRefusalReason, REFUSAL_HINTS} from '../core/refusal.js'
import {relayTo} from '../core/relay.js'
import {checkRootOwnedPath, realTrustFs, type TrustFs} from '../core/trust.js'
import {isSessionAccount} from '../sessions/sessions.js'
import {decodeKeyPair, profileOfAccount} from '../store/credentials.js'
import {isSealed, keyProof, sealValue} from '../store/custody-keys.js'

export const SUDO = '/usr/bin/sudo'
const SUDO_HINT = 'Custody mode needs sudo (Debian/Ubuntu: apt-get install sudo).'

export interface CustodyCall {
  code: number
  stdout: string
  stderr: string
}

/** `entry` when it passes the trust rule; the refusal names the part that does not. */
function trustedEntry(entry: string, fs: TrustFs): string {
  const verdict = checkRootOwnedPath(entry, fs)
  if (!verdict.ok) {
    throw new AvError(
      'refused',
      `the custody entry point ${entry} is not root-controlled (${verdict.path} ${verdict.reason})`,
      {suggestion: 'Run `sudo av install` again.'},
    )
  }

  return entry
}

/** The entry point when the policy names one that root controls; null in keychain mode. Throws when it is untrusted. */
export function custodyEntryOf(policy: Pick<Policy, 'custody'>, fs: TrustFs = realTrustFs): null | string {
  const entry = policy.custody?.entry
  return entry ? trustedEntry(entry, fs) : null
}

/**
 * The password-guarded twin of the entry point (`<entry>-auth`, see install.ts), for the verbs that hand a durable
 * key to a process of the user; it must pass the trust rule like the entry itself.
 */
export function authEntryOf(entry: string): string {
  return trustedEntry(`${entry}-auth`, realTrustFs)
}

/**
 * Run `sudo -n <entry> <args…>` with `input` on stdin. `stderr: 'inherit'` passes root's refusal line through.
 * `password`: a plain `sudo` with av's prompt, which sudo asks on the terminal (never on stdin, which carries input).
 */
export function callCustody(
  entry: string,
  args: string[],
  input: string,
  options: {onStderr?: (text: string) => void; password?: string; stderr?: 'inherit' | 'pipe'} = {},
): Promise<CustodyCall> {
  return new Promise((resolve, reject) => {
    const sudo = options.password === undefined ? ['-n'] : ['-p', options.password]
    const child = spawn(SUDO, [...sudo, entry, ...args], {stdio: ['pipe', 'pipe', options.stderr ?? 'pipe']})
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout!.on('data', (chunk: Buffer) => out.push(chunk))
    child.stderr?.on('data', (chunk: Buffer) => {
      err.push(chunk)
      options.onStderr?.(chunk.toString('utf8'))
    })
    child.once('error', (error) =>
      reject(
        new AvError('store-unavailable', `sudo could not be started (${(error as NodeJS.ErrnoException).code})`, {
          suggestion: SUDO_HINT,
        }),
      ),
    )
    child.once('close', (code) =>
      resolve({
        code: code ?? 1,
        stderr: Buffer.concat(err).toString('utf8'),
        stdout: Buffer.concat(out).toString('utf8'),
      }),
    )
    child.stdin!.on('error', () => {})
    child.stdin!.end(input)
  })
}

const INSTALL_HINT = 'Check that `sudo av install` completed (its sudoers drop-in lets you run the entry point).'

/**
 * The user-side error for a custody call that did not succeed, from root's last stderr line: a refusal (`av custody:
 * refused (<reason>): …`) keeps its reason and gets that reason's line from the one hint table; root's own failure
 * (`av custody: failed (<code>): …`) keeps its code and root's words; only a call root never answered (sudo
 * refused to run the entry point, or it could not start) points at the install.
 */
function failed(verb: string, call: CustodyCall): AvError {
  const line = call.stderr.trim().split('\n').at(-1) ?? ''
  const refusal = /^av (?:custody|credential-helper): refused \(([a-z-]+)\): (.+)$/.exec(line)
  if (refusal && isRefusalReason(refusal[1]!)) {
    const detail = refusal[2]!.replace(/\.$/, '').slice(0, 400)
    return new AvError('refused', `custody ${verb} refused (${refusal[1]}): ${detail}`, {
      reason: refusal[1],
      suggestion: REFUSAL_HINTS[refusal[1]],
    })
  }

  const root = /^av custody: failed \(([a-z-]+)\): (.+)$/.exec(line)
  if (root && isErrorCode(root[1]!) && root[1] !== 'internal') {
    return new AvError(root[1], `custody ${verb}: ${root[2]!.slice(0, 400)}`)
  }

  const rootAnswered = line.startsWith('av ')
  return new AvError(
    call.code === 126 ? 'refused' : 'store-unavailable',
    `custody ${verb} failed (exit ${call.code})${line ? `: ${line.slice(0, 300)}` : ''}`,
    rootAnswered ? {suggestion: REFUSAL_HINTS.internal} : {suggestion: INSTALL_HINT},
  )
}

/** What sudo's password prompt says, and what av says when sudo could not ask (no terminal) or was not answered. */
function passwordPrompt(why: string): string {
  return `[av] ${why}: password for %p: `
}

function passwordFailed(verb: string, call: CustodyCall, why: string): AvError {
  const line = call.stderr.trim().split('\n').at(-1) ?? ''
  if (/terminal is required|no tty present|askpass|a password is required/i.test(line)) {
    return new AvError('refused', `${why} needs your password, and there is no terminal to ask it on`, {
      suggestion: 'Run it yourself in a terminal.',
    })
  }

  if (/incorrect password|password attempts/i.test(line)) {
    return new AvError('refused', `${why}: the password was not given`, {
      suggestion: 'Run it again and type your login password when sudo asks (sudo asks it every time here).',
    })
  }

  return failed(verb, call)
}

/**
 * The root launcher's entry point when the policy names one that root controls (custody mode); null otherwise.
 * An install from before root ran the launcher names none: run `sudo av install` again.
 */
export function custodyLaunchOf(policy: Pick<Policy, 'custody'>, fs: TrustFs = realTrustFs): null | string {
  if (!policy.custody) return null
  const {launch} = policy.custody
  if (!launch) {
    throw new AvError('refused', 'the av policy names custody but no root launcher (an install from an older av)', {
      suggestion: 'Run `sudo av install` again.',
    })
  }

  return trustedEntry(launch, fs)
}

/** This process's tracer from /proc/self/status (0: none); sudo under a tracer cannot become root. */
export function ownTracer(statusText: null | string): number {
  return Number(/^TracerPid:\s*(\d+)/m.exec(statusText ?? '')?.[1] ?? 0)
}

/**
 * `av run` in custody mode: `sudo -n <launch> aws <args…>` with this process's stdio, signals relayed, the exit
 * code passed on. A traced process is refused here, by name, before sudo (which would only say that it cannot
 * become root).
 */
export async function launchThroughRoot(launch: string, command: string[]): Promise<number> {
  let status: null | string = null
  try {
    status = readFileSync('/proc/self/status', 'utf8')
  } catch {}

  const tracer = ownTracer(status)
  if (tracer !== 0) {
    throw new AvError(
      'refused',
      `the run is being traced (tracer ${tracer}): av will not run the AWS CLI under a tracer`,
      {
        suggestion: 'Run it without strace/gdb attached.',
      },
    )
  }

  return relayTo(
    [SUDO, '-n', launch, ...command],
    (error) => new AvError('store-unavailable', `sudo could not be started (${error.code})`, {suggestion: SUDO_HINT}),
  )
}

export interface PendingView {
  id: string
  elevated: boolean
  expires: number
  request: ApprovalRequest
}

/** The user's held runs, as root sees them. */
export async function pendingApprovals(entry: string): Promise<PendingView[]> {
  return parseAnswer<{pending: PendingView[]}>('pending', await callCustody(entry, ['pending'], '')).pending
}

/** `av approve <id>`: sudo asks the user's password, then root records the approval for that one run. */
export async function approveInCustody(entry: string, id: string): Promise<string> {
  const why = `approve held run ${id}`
  const call = await callCustody(authEntryOf(entry), ['approve', id], '', {password: passwordPrompt(why)})
  if (call.code !== 0) throw passwordFailed('approve', call, why)
  return call.stdout.trim()
}

/** `av deny <id>`: ends a held run at once. */
export async function denyInCustody(entry: string, id: string): Promise<string> {
  const call = await callCustody(entry, ['deny', id], '')
  if (call.code !== 0) throw failed('deny', call)
  return call.stdout.trim()
}

interface CustodyView {
  accounts: string[]
  sealed: Record<string, string>
}

function parseAnswer<T>(verb: string, call: CustodyCall): T {
  if (call.code !== 0) throw failed(verb, call)
  try {
    return JSON.parse(call.stdout) as T
  } catch {
    throw new AvError('internal', `custody ${verb} answered something that is not JSON`)
  }
}

/**
 * The user's side of the custody store, as the SecretStore that `av migrate`, `av restore`, `av status` and `av
 * session clear` use in custody mode. It holds durable items (`aws:<profile>`) and can drop cached sessions; it
 * sees durable items sealed (custody-keys.ts) unless the user took them out with their password (`unseal`, root's
 * `checkout` through `<entry>-auth`); it can delete one only with the proof that it holds its key, which it has for
 * keys it stored itself or took out. Every other call is one `sudo -n <entry> <verb>`.
 */
export class CustodyClientStore implements SecretStore {
  readonly label = 'root custody'
  /** Items whose real value this process holds, for the proof `remove` asks: stored by it, or taken out. */
  private readonly held = new Map<string, string>()
  /** Items the user took out with their password (`unseal`): `get` answers them instead of the sealed view. */
  private readonly unsealed = new Map<string, string>()
  private view?: CustodyView

  constructor(
    readonly entry: string,
    private readonly call: typeof callCustody = callCustody,
    /** The password-guarded entry, trust-checked when first needed. */
    private readonly authEntry: () => string = () => authEntryOf(entry),
  ) {}

  async delete(account: string): Promise<boolean> {
    if (isSessionAccount(account)) return this.dropSession(account)
    const profile = durableProfile(account)
    const value = this.held.get(account)
    if (value === undefined) {
      if ((await this.load()).sealed[account] === undefined) return false
      throw new AvError('refused', `the key of ${profile} is in root custody; deleting it needs it taken out first`, {
        suggestion: '`av restore` takes keys out of custody (sudo asks your password).',
      })
    }

    const answer = parseAnswer<{removed: boolean}>(
      'remove',
      await this.call(
        this.entry,
        ['remove'],
        JSON.stringify({profile, proof: keyProof(decodeKeyPair(account, value))}),
      ),
    )
    this.held.delete(account)
    this.unsealed.delete(account)
    if (this.view) {
      delete this.view.sealed[account]
      this.view.accounts = this.view.accounts.filter((a) => a !== account)
    }

    return answer.removed
  }

  async get(account: string): Promise<null | string> {
    return this.unsealed.get(account) ?? (await this.load()).sealed[account] ?? null
  }

  async list(): Promise<string[]> {
    return [...(await this.load()).accounts]
  }

  async probe(): Promise<void> {
    this.view = undefined
    await this.load()
  }

  seal(account: string, value: string): string {
    return sealValue(account, value)
  }

  async set(account: string, value: string): Promise<void> {
    const profile = durableProfile(account)
    const answer = parseAnswer<{sealed: string}>(
      'store',
      await this.call(this.entry, ['store'], JSON.stringify({profile, value})),
    )
    const view = await this.load()
    view.sealed[account] = answer.sealed
    if (!view.accounts.includes(account)) view.accounts = [...view.accounts, account].sort()
    this.unsealed.delete(account)
    if (!isSealed(account, value)) this.held.set(account, value)
  }

  async unseal(accounts: string[]): Promise<void> {
    const profiles = accounts.map((a) => durableProfile(a))
    const why = `av restore takes the AWS keys of ${profiles.join(', ')} out of root custody`
    const call = await this.call(this.authEntry(), ['checkout', ...profiles], '', {
      password: passwordPrompt(why),
    })
    if (call.code !== 0) throw passwordFailed('checkout', call, why)
    const answer = parseAnswer<{items: Record<string, string>}>('checkout', call)
    for (const account of accounts) {
      const value = answer.items[account]
      if (typeof value !== 'string') throw new AvError('internal', `custody checkout did not return ${account}`)
      this.held.set(account, value)
      this.unsealed.set(account, value)
    }
  }

  /** A cached STS session or role credential: any process of the user may drop one (av session clear). */
  private async dropSession(account: string): Promise<boolean> {
    const answer = parseAnswer<{cleared: string[]}>(
      'drop-sessions',
      await this.call(this.entry, ['drop-sessions'], JSON.stringify({accounts: [account]})),
    )
    if (this.view) this.view.accounts = this.view.accounts.filter((a) => a !== account)
    return answer.cleared.includes(account)
  }

  private async load(): Promise<CustodyView> {
    this.view ??= parseAnswer<CustodyView>('view', await this.call(this.entry, ['view'], '{}'))
    return this.view
  }
}

function durableProfile(account: string): string {
  const profile = profileOfAccount(account)
  if (profile === null) throw new AvError('internal', `root custody keeps only durable keys here, not ${account}`)
  return profile
}

/** A step root reported on stderr while rotating (`av custody: step <profile> <step>: <text>`). */
export interface CustodyStep {
  profile: string
  step: string
  text: string
}

export function custodySteps(stderr: string): CustodyStep[] {
  return [...stderr.matchAll(/^av custody: step (\S+) ([a-z]+): (.*)$/gm)].map(([, profile, step, text]) => ({
    profile: profile!,
    step: step!,
    text: text!,
  }))
}

/**
 * `av rotate` in custody mode: sudo asks the user's password (as for an elevated run), then root rotates each
 * profile's key itself; only key ids and timings come back. `onStep` gets root's step lines, also when it failed.
 */
export async function rotateInCustody<T>(
  entry: string,
  profiles: string[],
  onStep: (step: CustodyStep) => void,
  call: typeof callCustody = callCustody,
  /** The password-guarded entry, trust-checked. */
  authEntry: () => string = () => authEntryOf(entry),
): Promise<T[]> {
  const why = `replacing the AWS keys of ${profiles.join(', ')} (av rotate)`
  // Root's step lines as they come (a wait for a new key can take a while), each shown once.
  let pending = ''
  const onStderr = (text: string) => {
    const lines = (pending + text).split('\n')
    pending = lines.pop() ?? ''
    for (const step of custodySteps(lines.join('\n'))) onStep(step)
  }

  const result = await call(authEntry(), ['rotate', ...profiles], '', {onStderr, password: passwordPrompt(why)})
  if (pending) for (const step of custodySteps(pending)) onStep(step)
  if (result.code !== 0) throw passwordFailed('rotate', result, why)
  return parseAnswer<{results: T[]}>('rotate', result).results
}

/** `av doctor` in custody mode: root dates each durable key it holds for the user (asking IAM unless offline). */
export async function keyAgesInCustody<T>(
  entry: string,
  options: {offline: boolean},
  call: typeof callCustody = callCustody,
): Promise<T[]> {
  const args = options.offline ? ['key-ages', '--offline'] : ['key-ages']
  return parseAnswer<{ages: T[]}>('key-ages', await call(entry, args, '')).ages
}

/** A sign-in code root reported on stderr (`av custody: sso-code <code> <uri> <uri with code>`). */
export function custodySsoCode(line: string): null | SignInPrompt {
  const match = /^av custody: sso-code (\S+) (\S+) (\S+)$/.exec(line)
  return match ? {userCode: match[1]!, verificationUri: match[2]!, verificationUriComplete: match[3]!} : null
}

/**
 * `av login` in custody mode: root registers the client, starts the device grant and polls for the token; only the
 * URL and code come back (to `onCode`), and the tokens stay in root custody. `configFile`: the user's AWS config,
 * which root reads with the user's own rights.
 */
export async function ssoLoginInCustody<T>(
  entry: string,
  request: {configFile: string; profile?: string; session?: string},
  onCode: (authorization: SignInPrompt) => void,
  call: typeof callCustody = callCustody,
): Promise<T> {
  let pending = ''
  const onStderr = (text: string) => {
    const lines = (pending + text).split('\n')
    pending = lines.pop() ?? ''
    for (const line of lines) {
      const code = custodySsoCode(line)
      if (code) onCode(code)
    }
  }

  return parseAnswer<T>('sso-login', await call(entry, ['sso-login'], JSON.stringify(request), {onStderr}))
}

/** `av logout` in custody mode: root drops the named sign-ins (`sso:<key>`, `login:<session>`; `*`: all the user's). */
export async function ssoLogoutInCustody(
  entry: string,
  accounts: string[],
  call: typeof callCustody = callCustody,
): Promise<string[]> {
  return parseAnswer<{removed: string[]}>('sso-logout', await call(entry, ['sso-logout'], JSON.stringify({accounts})))
    .removed
}

/** Drop cached session or role credentials of the user's in root custody. */
export async function dropSessionsInCustody(
  entry: string,
  accounts: string[],
  call: typeof callCustody = callCustody,
): Promise<string[]> {
  if (accounts.length === 0) return []
  return parseAnswer<{cleared: string[]}>(
    'drop-sessions',
    await call(entry, ['drop-sessions'], JSON.stringify({accounts})),
  ).cleared
}

/**
 * `av migrate` in custody mode: root takes the AWS CLI's plaintext cache document of a sign-in (IAM Identity Center
 * `sso-import`, console sign-in `login-import`) and reads it back.
 */
export async function signInImportInCustody(
  entry: string,
  move: {key: string; kind: 'login' | 'sso'; text: string},
  call: typeof callCustody = callCustody,
): Promise<void> {
  const verb = move.kind === 'sso' ? 'sso-import' : 'login-import'
  parseAnswer<{stored: boolean}>(verb, await call(entry, [verb], JSON.stringify({cache: move.text, key: move.key})))
}
