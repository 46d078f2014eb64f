/**
 * `av run -- aws <args>` without oclif: bin/run.js imports this directly, and so does the installed `aws` shim
 * (it execs `node <av>/bin/run.js run -- aws "$@"`). This file is the one place that wires the real world into
 * the launcher, the gate included.
 */
import {spawn} from 'node:child_process'
import {existsSync, readFileSync, realpathSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import type {Policy} from '../core/policy.js'
import type {Context} from '../world/context.js'

import {findAwsRuntime} from '../aws/aws-runtime.js'
import {AvError, EXIT, exitCodeOf, formatError} from '../core/errors.js'
import {awsConfigFile} from '../core/paths.js'
import {systemProcessTable} from '../core/process-table.js'
import {relayTo, signalReachedOwnGroup} from '../core/relay.js'
import {custodyLaunchOf, launchThroughRoot} from '../custody/custody-client.js'
import {requestApproval} from '../gate/approver.js'
import {classifyArgv, loadUserDecisions} from '../gate/classify.js'
import {type LauncherDeps, runAws} from '../run/launcher.js'
import {startPrewarm} from '../run/prewarm.js'
import {sudoRefusal} from '../run/sudo-guard.js'
import {hashArgv, loadTokenKey, mintToken} from '../run/token.js'
import {realContext} from '../world/context.js'

// A SIGUSR1 listener stops Node from opening its inspector on SIGUSR1: without it, an agent running as the same
// user could signal the launcher and run code inside it. Installed when this module loads, before anything else.
process.on('SIGUSR1', () => {})

/** The gate: classifier, the user's stricter decisions, and the approver chain from the root-owned policy. */
function gate(ctx: Context, policy: Policy): Pick<LauncherDeps, 'approve' | 'classify' | 'userDecisions'> {
  const warn = (message: string) => ctx.stderr.write(`av: warning: ${message}\n`)
  const user = loadUserDecisions({env: ctx.env, home: ctx.home})
  for (const warning of user.warnings) warn(warning)
  return {
    approve: (request) =>
      requestApproval(request, {approvers: policy.approvers, env: ctx.env, platform: ctx.platform, warn}),
    classify: classifyArgv,
    userDecisions: user.decisions,
  }
}

export const RUN_USAGE = 'av run -- aws <service> <operation> [options…]'

/** Split `av run` argv at the first `--`: nothing may come before it, everything after passes untouched. */
export function splitRunArgv(args: string[]): {command: string[]} | {help: true} {
  const dash = args.indexOf('--')
  const before = dash === -1 ? args : args.slice(0, dash)
  if (before.length === 1 && ['--help', '-h', 'help'].includes(before[0]!)) return {help: true}
  if (dash === -1 || before.length > 0) {
    const rest = dash === -1 ? args : [...before, ...args.slice(dash + 1)]
    throw new AvError('usage', 'av run takes the command after `--`', {
      suggestion: rest[0] === 'aws' ? `av run -- ${rest.join(' ')}` : RUN_USAGE,
    })
  }

  return {command: args.slice(dash + 1)}
}

/** The built helper bundle, run by this Node without the ES module loader (absent in a checkout before a build). */
function helperEntry(): Pick<LauncherDeps, 'helper'> {
  const bundle = fileURLToPath(new URL('helper-entry.cjs', import.meta.url))
  if (!existsSync(bundle)) return {}
  return {helper: [process.execPath, realpathSync(bundle), 'credential-helper', 'aws']}
}

/** The real launcher deps: keychain, /proc or ps, the root-owned policy, the system runtime. */
export function realLauncherDeps(ctx: Context): LauncherDeps {
  const loaded = ctx.policy()
  for (const warning of loaded.warnings) ctx.stderr.write(`av: warning: ${warning}\n`)
  const {policy} = loaded
  const processTable = systemProcessTable(ctx.platform)
  return {
    ...gate(ctx, policy),
    avEntry: realpathSync(fileURLToPath(new URL('../../../bin/run.js', import.meta.url))),
    ...helperEntry(),
    ctx,
    findRuntime: () => findAwsRuntime({env: ctx.env, platform: ctx.platform, policy}),
    pid: process.pid,
    policy,
    prewarm: (argv, env, runtime) => startPrewarm(argv, runtime, {env}),
    processTable,
    signalReachedChild: signalReachedOwnGroup,
    signals: process,
    spawn,
    tokens: {hashArgv, loadKey: () => loadTokenKey(ctx.store, {create: true}), mint: mintToken},
    userAws: {
      aliasExists: () => existsSync(path.join(ctx.home, '.aws', 'cli', 'alias')),
      configText() {
        try {
          return readFileSync(awsConfigFile({env: ctx.env, home: ctx.home, platform: ctx.platform}), 'utf8')
        } catch {
          return null
        }
      },
    },
  }
}

/** What the helper requires of the launcher's script path in its argv: absolute, no `.`, `..` or `//`. */
export function isPlainAbsolute(file: string | undefined): boolean {
  return (
    file !== undefined &&
    path.isAbsolute(file) &&
    !file
      .split('/')
      .slice(1)
      .some((c) => c === '' || c === '.' || c === '..')
  )
}

/**
 * `node bin/run.js run …` from a checkout names its script relatively; the helper refuses such a launcher (a
 * relative path depends on a working directory the user controls). Start av again by its real absolute path,
 * relay signals, and pass the exit code on. The installed shims always use absolute paths and never get here.
 */
function relaunch(entry: string, args: string[]): Promise<number> {
  return relayTo([process.execPath, entry, 'run', ...args], (error) => error)
}

/** Entry point for `av run …` (args after `run`). Resolves to the process exit code; never throws. */
export async function main(args: string[], ctx: Context = realContext()): Promise<number> {
  try {
    const refusal = sudoRefusal('run', ctx.env, ctx.uid)
    if (refusal) throw refusal
    const split = splitRunArgv(args)
    if ('help' in split) {
      ctx.stdout.write(
        `Run the AWS CLI sealed: gate, then a root-owned CLI with av's credentials.\n\nUsage: ${RUN_USAGE}\n`,
      )
      return EXIT.ok
    }

    // Custody mode: root runs the launcher (root-launcher.ts); this process only hands the argv over.
    const launch = custodyLaunchOf(ctx.policy().policy)
    if (launch) return await launchThroughRoot(launch, split.command)
    const deps = realLauncherDeps(ctx)
    if (!isPlainAbsolute(deps.processTable.snapshot(deps.pid)?.argv[1])) return await relaunch(deps.avEntry, args)
    return await runAws(split.command, deps)
  } catch (error) {
    ctx.stderr.write(formatError(error) + '\n')
    return exitCodeOf(error)
  }
}
