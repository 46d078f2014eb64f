/**
 * How a launcher passes a run on: the signals it relays to the program it started (all but those the terminal
 * already sent that program), and that program's exit code (128+n when signal n ended it). Shared by the keychain
 * launcher, the root launcher, av run's relaunch and custody's hand-over to the root launcher through sudo.
 */
import {spawn} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {constants} from 'node:os'

/** What a launcher needs of the program it runs: a ChildProcess, or one the root launcher adopted (adopted-child.ts). */
export interface RunningChild {
  readonly exitCode: null | number
  readonly signalCode: NodeJS.Signals | null
  kill(signal?: number | NodeJS.Signals): boolean
  once(event: 'error', listener: (error: NodeJS.ErrnoException) => void): unknown
  once(event: 'exit', listener: (code: null | number, signal: NodeJS.Signals | null) => void): unknown
}

export interface SignalSource {
  on(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown
  removeListener(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown
}

/**
 * Linux: true for SIGINT/SIGQUIT when this process is in its terminal's foreground process group (then the
 * terminal sent the signal to the CLI too). Reads /proc/self/stat (pgrp is field 5, tpgid field 8); elsewhere false.
 */
export function terminalSignalReachesGroup(signal: NodeJS.Signals, statText: null | string): boolean {
  if (signal !== 'SIGINT' && signal !== 'SIGQUIT') return false
  const fields = statText?.slice(statText.lastIndexOf(')') + 2).split(' ')
  const pgrp = Number(fields?.[2])
  const tpgid = Number(fields?.[5])
  return Number.isInteger(pgrp) && pgrp > 0 && pgrp === tpgid
}

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT']

/** The signals a launcher passes on to the program it runs, from before that program exists until `stop`. */
export interface SignalRelay {
  /** The program to pass signals to from now on. */
  attach(child: RunningChild): void
  /** A signal that came before `attach`: the launcher should not start the program then. */
  readonly pending: NodeJS.Signals | undefined
  stop(): void
}

/**
 * Relay SIGINT, SIGTERM, SIGHUP and SIGQUIT from `source` to the attached child while it runs, except those the
 * terminal already sent the child itself (`reachedChild`); one that comes before a child exists is kept as `pending`.
 */
export function relaySignals(source: SignalSource, reachedChild: (signal: NodeJS.Signals) => boolean): SignalRelay {
  let child: RunningChild | undefined
  let pending: NodeJS.Signals | undefined
  const forward = (signal: NodeJS.Signals) => {
    if (child === undefined) pending ??= signal
    else if (child.exitCode === null && child.signalCode === null && !reachedChild(signal)) child.kill(signal)
  }

  for (const signal of FORWARDED) source.on(signal, forward)
  return {
    attach(started) {
      child = started
    },
    get pending() {
      return pending
    },
    stop() {
      for (const signal of FORWARDED) source.removeListener(signal, forward)
    },
  }
}

/** terminalSignalReachesGroup for this very process (Linux: /proc/self/stat; false where it cannot be read). */
export function signalReachedOwnGroup(signal: NodeJS.Signals): boolean {
  let stat: null | string = null
  try {
    stat = readFileSync('/proc/self/stat', 'utf8')
  } catch {}

  return terminalSignalReachesGroup(signal, stat)
}

/**
 * Run `argv` with this process's stdio and signals relayed, resolving to its exit code (128+n when it died of signal
 * n); `failed` says what an error starting it means. For a process that only hands a run on (av run's relaunch,
 * custody's sudo to the root launcher).
 */
export async function relayTo(argv: string[], failed: (error: NodeJS.ErrnoException) => Error): Promise<number> {
  const relay = relaySignals(process, signalReachedOwnGroup)
  try {
    const child = spawn(argv[0]!, argv.slice(1), {stdio: 'inherit'})
    relay.attach(child)
    return await exitOf(child, failed)
  } finally {
    relay.stop()
  }
}

export function signalExit(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0)
}

/** The child's exit code, 128+n when it died of signal n; `failed` turns an error starting it into the rejection. */
export function exitOf(child: RunningChild, failed: (error: NodeJS.ErrnoException) => Error): Promise<number> {
  return new Promise((resolve, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) => reject(failed(error)))
    child.once('exit', (code, signal) => resolve(code ?? signalExit(signal ?? 'SIGTERM')))
  })
}
