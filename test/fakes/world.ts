import {mkdirSync, mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import type {AuditEvent} from '../../src/lib/audit/audit.js'
import type {Context} from '../../src/lib/world/context.js'

import {DEFAULT_POLICY, type LoadedPolicy} from '../../src/lib/core/policy.js'
import {MemoryStore} from './memory-store.js'

/** A world for running a command in-process: its own HOME (real files in a temp dir), a memory store, a fixed clock. */
export interface FakeWorld {
  ctx: Context
  events: AuditEvent[]
  home: string
  /** What the command wrote through the context (not through oclif's this.log). */
  stderr: string[]
  stdout: string[]
  store: MemoryStore
}

/**
 * `policy`: the root policy the command sees (default: the built-in defaults, keychain mode). Never the machine's
 * own /etc/av/policy.json, so the tests pass wherever av is installed.
 */
export function fakeWorld(
  options: {env?: NodeJS.ProcessEnv; policy?: Partial<LoadedPolicy['policy']>} = {},
): FakeWorld {
  const home = mkdtempSync(path.join(tmpdir(), 'av-cmd-world-'))
  mkdirSync(path.join(home, '.aws'), {mode: 0o700})
  const events: AuditEvent[] = []
  const stdout: string[] = []
  const stderr: string[] = []
  const store = new MemoryStore()
  const env: NodeJS.ProcessEnv = {HOME: home, PATH: '/usr/bin:/bin', ...options.env}
  const loaded: LoadedPolicy = {policy: {...DEFAULT_POLICY, ...options.policy}, source: null, warnings: []}
  const ctx: Context = {
    audit: {
      async record(event) {
        events.push(event)
      },
    },
    clock: {now: () => Date.parse('2026-12-04T12:00:00Z')},
    env,
    euid: 1000,
    home,
    interactive: false,
    platform: 'linux',
    policy: () => loaded,
    stderr: {write: (text) => stderr.push(text)},
    stdout: {write: (text) => stdout.push(text)},
    stdoutIsTerminal: false,
    store,
    tmpdir: home,
    uid: 1000,
  }
  return {ctx, events, home, stderr, stdout, store}
}
