/**
 * The launcher: `av run -- aws <args>`. Gate first (the CLI runs no command before the gate's decision is recorded
 * and, for a held command, approved), then a sealed runtime — private HOME, generated config, allowlisted
 * environment, a per-run token bound to this launcher — then the root-controlled AWS CLI with stdio untouched (for
 * an allowed command, its interpreter imported meanwhile: prewarm.ts). Exits with the CLI's code; av's own failures
 * use 125/126/127.
 */
import type {ChildProcess, SpawnOptions} from 'node:child_process'

import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import type {AuditEvent} from '../audit/audit.js'
import type {AwsRuntime} from '../aws/aws-runtime.js'
import type {Decision, Policy} from '../core/policy.js'
import type {ProcessTable} from '../core/process-table.js'
import type {Trace} from '../core/trace.js'
import type {ClassifyDeps} from '../gate/classify.js'
import type {ApprovalAnswer, ApprovalRequest, GateDecision, ParsedArgv} from '../gate/types.js'
import type {Context} from '../world/context.js'
import type {TokenClaims} from './token.js'

import {parseAwsProfiles} from '../aws/aws-profiles.js'
import {
  buildChildEnv,
  buildSealedConfig,
  checkProfileName,
  hashConfig,
  ignoredSettingsNotice,
  quoteWord,
} from '../aws/sealed-runtime.js'
import {AvError, EXIT} from '../core/errors.js'
import {runtimeDir} from '../core/paths.js'
import {exitOf, relaySignals, type RunningChild, signalExit, type SignalSource} from '../core/relay.js'
import {traceFrom} from '../core/trace.js'
import {isElevatedRun} from '../gate/rules.js'
import {isMfaSession} from '../sessions/session-settings.js'
import {discard, handOff, isWaiting, prewarmArgv, type Prewarmed} from './prewarm.js'
import {RUN_TOKEN_LIFETIME_MS} from './token.js'

/** A token stays valid for the whole run (the CLI may ask the helper again to refresh); it dies with the launcher. */
export const TOKEN_LIFETIME_MS = RUN_TOKEN_LIFETIME_MS

export type Classify = (
  argv: string[],
  deps: ClassifyDeps,
) => {decision: GateDecision; parsed: ParsedArgv; warnings?: string[]}

export interface LauncherDeps {
  ctx: Context
  policy: Policy
  /** This launcher's pid (the token binds it, with its start time from the process table). */
  pid: number
  /** Real path of the running av's bin/run.js: the generated config's credential_process runs it. */
  avEntry: string
  /**
   * The credential helper's command before `--profile P`, when not `<avEntry> credential-helper aws`: the built
   * helper entry run by this launcher's own Node (main/helper-entry.ts).
   */
  helper?: string[]
  classify: Classify
  approve(request: ApprovalRequest): Promise<ApprovalAnswer>
  findRuntime(): AwsRuntime
  processTable: Pick<ProcessTable, 'snapshot'>
  tokens: {
    hashArgv(argv: string[]): string
    loadKey(): Promise<Buffer | null>
    mint(key: Buffer, claims: TokenClaims): string
  }
  spawn(file: string, args: string[], options: SpawnOptions): ChildProcess
  /**
   * Start the CLI's interpreter as `argv` (prewarm.ts `prewarmArgv`) with the run's sealed environment, so that it
   * imports its modules while the gate's decision is recorded; it runs the command only when handed it. Absent (tests):
   * the CLI starts once the gate let it.
   */
  prewarm?(argv: string[], env: Record<string, string>, runtime: string[]): Prewarmed
  signals: SignalSource
  /**
   * Whether `signal`, received by the launcher, also reached the CLI by itself: Ctrl-C and Ctrl-\\ go to the
   * terminal's whole foreground process group, CLI included. Forwarding those again would interrupt the CLI's
   * own clean-up (sudo skips them for the same reason). Every other signal is forwarded.
   */
  signalReachedChild(signal: NodeJS.Signals): boolean
  /** The user's own AWS setup, read only for allowlisted settings and the "ignored" notice. */
  userAws: {aliasExists(): boolean; configText(): null | string}
  userDecisions?: Record<string, Decision>
}

/** The launcher's ancestors, nearest first, for the approval prompt ("who asked"). */
function ancestry(deps: LauncherDeps): ApprovalRequest['chain'] {
  const chain: ApprovalRequest['chain'] = []
  let pid = deps.processTable.snapshot(deps.pid)?.ppid ?? 0
  while (pid > 1 && chain.length < 5) {
    const snapshot = deps.processTable.snapshot(pid)
    if (!snapshot) break
    chain.push({name: path.basename(snapshot.exe ?? snapshot.argv[0] ?? '?'), pid})
    pid = snapshot.ppid
  }

  return chain
}

/** Largest --cli-input-* text passed inline (Linux refuses a single argument over 128 KiB). */
export const MAX_PINNED_INPUT = 100 * 1024

/**
 * The argv the CLI gets: `args` with the classified --cli-input-* file's text in place of its `file://` name, so
 * what runs is exactly what the gate read. The CLI reads `file://` values for any parameter, so every occurrence
 * of that exact value (`--opt file://x` or `--opt=file://x`) can take the text.
 */
export function pinInputFile(args: string[], inputFile: ParsedArgv['inputFile']): string[] {
  if (!inputFile) return args
  if (Buffer.byteLength(inputFile.text) > MAX_PINNED_INPUT) {
    throw new AvError('refused', `the --cli-input-* file is larger than ${MAX_PINNED_INPUT / 1024} KiB`, {
      suggestion: 'Split the input, or pass the large values as separate parameters.',
    })
  }

  const {raw, text} = inputFile
  return args.map((word) => {
    if (word === raw) return text
    if (word.startsWith('--') && word.endsWith(`=${raw}`)) return word.slice(0, word.length - raw.length) + text
    return word
  })
}

/** The gate's verdict on a command, what it records, and the command as a person reads it. */
interface Gated {
  command: string
  decision: GateDecision
  event: AuditEvent & {event: 'gate'}
  parsed: ParsedArgv
}

/** Classify the argv (the gate's warnings go to stderr); nothing is recorded or asked yet. */
function classifyRun(args: string[], deps: LauncherDeps): Gated {
  const {ctx} = deps
  const {decision, parsed, warnings} = deps.classify(args, {
    env: ctx.env,
    home: ctx.home,
    policy: deps.policy,
    ...(deps.userDecisions ? {userDecisions: deps.userDecisions} : {}),
  })
  for (const warning of warnings ?? []) ctx.stderr.write(`av: warning: ${warning}\n`)
  const command = ['aws', ...args].map((word) => quoteWord(word)).join(' ')
  const event = {
    event: 'gate' as const,
    decision: decision.decision,
    category: decision.category,
    rule: decision.rule,
    profile: decision.profile,
    service: decision.service,
    operation: decision.operation,
    argvHash: deps.tokens.hashArgv(args),
  }
  return {command, decision, event, parsed}
}

/** Record the gate's verdict and ask for a held command; resolves when it may run, throws `denied` (126) otherwise. */
async function passGate(gated: Gated, deps: LauncherDeps): Promise<void> {
  const {ctx} = deps
  const {command, decision, event: gateEvent, parsed} = gated
  if (decision.decision === 'allow') {
    await ctx.audit.record(gateEvent)
    return
  }

  const allowIt =
    'allow it for everyone in the root-owned /etc/av/policy.json ' +
    `("decisions": {"${decision.rule ?? decision.category ?? 'rule'}": "allow"})`
  if (decision.decision === 'deny') {
    await ctx.audit.record({...gateEvent, answer: null})
    throw new AvError('denied', `\`${command}\` is denied by the gate: ${decision.reason}`, {
      suggestion: `If it should run, an administrator can ${allowIt}.`,
    })
  }

  const endpoint = parsed.globals['endpoint-url']
  const answer = await deps.approve({
    category: decision.category,
    chain: ancestry(deps),
    command,
    endpoint: typeof endpoint === 'string' ? endpoint : null,
    profile: decision.profile,
    reason: decision.reason,
    rule: decision.rule,
  })
  await ctx.audit.record({...gateEvent, answer})
  if (answer === 'approved') return
  const why = answer === 'denied' ? 'approval was denied' : 'no approval channel could ask a person'
  throw new AvError('denied', `\`${command}\` needs approval (${decision.reason}) and ${why}`, {
    suggestion:
      answer === 'denied'
        ? 'Nothing to do if that was intended; otherwise run it again and approve it.'
        : `Run \`av run -- ${command}\` yourself in a terminal where you can answer the approval prompt, or ${allowIt}.`,
  })
}

/** Run the AWS CLI through av. `argv` is everything after `av run --`, untouched. Resolves to the exit code. */
export async function runAws(argv: string[], deps: LauncherDeps): Promise<number> {
  const [program, ...args] = argv
  if (program === undefined) {
    throw new AvError('usage', 'nothing to run', {suggestion: 'av run -- aws <service> <operation> …'})
  }

  if (program !== 'aws') {
    throw new AvError('refused', `av run only runs the AWS CLI, not ${JSON.stringify(program.slice(0, 80))}`, {
      suggestion: 'Run AWS CLI commands as `av run -- aws <service> <operation> …`; run other programs without av.',
    })
  }

  const trace = traceFrom(deps.ctx.env, 'launcher', (text) => deps.ctx.stderr.write(text))
  trace.mark('start')
  const runtime = deps.findRuntime()
  const gated = classifyRun(args, deps)
  // A denied command ends here: recorded, refused, nothing of the run made.
  if (gated.decision.decision === 'deny') await passGate(gated, deps)
  const {profile} = gated.decision
  checkProfileName(profile)
  // A command session credentials cannot perform gets the durable key for this run only (it got here allowed by
  // policy or approved); IAM on a profile whose session av gets with MFA runs on that session.
  const userConfig = deps.userAws.configText()
  const userProfiles = userConfig === null ? {} : parseAwsProfiles(userConfig)
  const mfaSession = isMfaSession(profile, userProfiles, deps.policy)
  const elevated = isElevatedRun(gated.decision, {mfaSession})
  const run = {
    args: pinInputFile(args, gated.parsed.inputFile),
    elevated,
    profile,
    userConfig,
    userProfiles,
    // Only an allowed command's CLI starts early: a held one's (a process of the user, holding the run's token)
    // starts once a person said yes, as before.
    warmArgv: gated.decision.decision === 'allow' ? prewarmArgv(runtime.argv, args) : null,
  }
  return runSealed(runtime, run, gated, deps, trace)
}

/**
 * The sealed run: private HOME, generated config, token, then the gate's record and approval, then the CLI. With
 * a waiting interpreter (prewarm.ts) the CLI imports its modules meanwhile: it starts with the run's sealed
 * environment, token included, as the CLI always did, and is handed the command only once the gate let it run.
 */
async function runSealed(
  runtime: AwsRuntime,
  run: {
    args: string[]
    elevated: boolean
    profile: string
    /** The user's AWS config, as runAws read it (null: none), and its profiles. */
    userConfig: null | string
    userProfiles: ReturnType<typeof parseAwsProfiles>
    warmArgv: null | string[]
  },
  gated: Gated,
  deps: LauncherDeps,
  trace: Trace,
): Promise<number> {
  const {args, elevated, profile, userConfig, warmArgv} = run
  const {ctx} = deps
  const relay = relaySignals(deps.signals, (signal) => deps.signalReachedChild(signal))
  // The keychain read is the slowest step: start it now, build the sealed config meanwhile.
  const key = deps.tokens.loadKey()
  key.catch(() => {})
  let home: string | undefined
  /** The waiting interpreter (prewarm.ts) and the environment it started with, which it is handed again. */
  let warm: null | {env: Record<string, string>; prewarmed: Prewarmed} = null
  const started = ctx.clock.now()
  try {
    home = makePrivateHome(ctx)
    const notice = ignoredSettingsNotice(userConfig, deps.userAws.aliasExists())
    if (notice) ctx.stderr.write(notice + '\n')
    const config = buildSealedConfig(run.userProfiles, {
      avEntry: deps.avEntry,
      ...(deps.helper ? {credentialProcess: [...deps.helper, '--profile', profile]} : {}),
      profile,
    })
    const configFile = path.join(home, '.aws', 'config')
    mkdirSync(path.dirname(configFile), {mode: 0o700})
    writeFileSync(configFile, config, {flag: 'wx', mode: 0o600})
    const tokenKey = await key
    const configHash = hashConfig(config)
    /** The CLI's environment when it runs as `cliArgv` (what the token binds, and the helper reads in /proc). */
    const envFor = (cliArgv: string[]) => {
      const token = mintRunToken(deps, tokenKey, {configHash, cliArgv, elevated, profile})
      return buildChildEnv(ctx.env, {configFile, home: home!, profile, token})
    }

    if (warmArgv && deps.prewarm) {
      const env = envFor(warmArgv)
      warm = {env, prewarmed: deps.prewarm(warmArgv, env, runtime.argv)}
    }

    trace.mark('token')
    await passGate(gated, deps)
    trace.mark('gate')
    if (relay.pending) return signalExit(relay.pending)

    let child: RunningChild
    if (warm && isWaiting(warm.prewarmed)) {
      handOff(warm.prewarmed, {args, env: warm.env})
      child = warm.prewarmed.child
    } else {
      // No waiting interpreter, or it is gone (it failed to start, or died waiting): the CLI starts now.
      const cliArgv = [...runtime.argv, ...args]
      child = deps.spawn(cliArgv[0]!, cliArgv.slice(1), {env: envFor(cliArgv), stdio: 'inherit'})
    }

    relay.attach(child)
    const code = await waitFor(child)
    trace.mark('cli')
    await ctx.audit
      .record({
        event: 'run',
        profile,
        argvHash: gated.event.argvHash,
        exitCode: code,
        ms: ctx.clock.now() - started,
      })
      .catch((error: unknown) => ctx.stderr.write(`av: warning: ${(error as Error).message}\n`))
    trace.mark('audit')
    return code
  } finally {
    // Not handed a run (refused, denied, failed): it has run only the CLI's imports.
    discard(warm?.prewarmed)
    relay.stop()
    if (home) rmSync(home, {force: true, recursive: true})
  }
}

/** A fresh 0700 directory under XDG_RUNTIME_DIR (or the temp dir when that is unusable). */
function makePrivateHome(ctx: Context): string {
  const base = runtimeDir({env: ctx.env, home: ctx.home, platform: ctx.platform}, ctx.tmpdir)
  for (const dir of base === ctx.tmpdir ? [base] : [base, ctx.tmpdir]) {
    try {
      return mkdtempSync(path.join(dir, 'av-run-'))
    } catch (error) {
      if (dir === ctx.tmpdir) {
        throw new AvError('internal', `cannot create a private HOME under ${dir} (${(error as Error).message})`, {
          suggestion: 'Check that your temp directory exists and is writable (TMPDIR).',
        })
      }
    }
  }

  throw new AvError('internal', 'cannot create a private HOME')
}

function mintRunToken(
  deps: LauncherDeps,
  key: Buffer | null,
  run: {cliArgv: string[]; configHash: string; elevated: boolean; profile: string},
): string {
  if (!key) throw new AvError('store-unavailable', 'the token key could not be created in the OS keychain')
  const self = deps.processTable.snapshot(deps.pid)
  if (!self) {
    throw new AvError('internal', `cannot read this launcher's own start time (pid ${deps.pid})`, {
      suggestion: 'On Linux av needs a readable /proc; on macOS /bin/ps.',
    })
  }

  const issued = deps.ctx.clock.now()
  return deps.tokens.mint(key, {
    v: 1,
    launcherPid: deps.pid,
    launcherStart: self.startTime,
    profile: run.profile,
    argvHash: deps.tokens.hashArgv(run.cliArgv),
    configHash: run.configHash,
    issued,
    expires: issued + TOKEN_LIFETIME_MS,
    ...(run.elevated ? {elevated: true} : {}),
  })
}

/** The CLI's exit code; death by signal n is 128+n; a runtime that cannot start is 127 (missing) or 125. */
export function waitFor(child: RunningChild): Promise<number> {
  return exitOf(child, (error) => {
    const missing = error.code === 'ENOENT'
    return new AvError(missing ? 'runtime-not-found' : 'internal', `the AWS CLI could not be started (${error.code})`, {
      cause: error,
      exit: missing ? EXIT.notFound : EXIT.failed,
    })
  })
}
