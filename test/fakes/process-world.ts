import type {ProcessSnapshot, ProcessTable} from '../../src/lib/core/process-table.js'
import type {FileFacts, TrustFs} from '../../src/lib/core/trust.js'

import {DEFAULT_AWS_CLI} from '../../src/lib/run/caller-check.js'
import {dir, factsFs, file} from './trust-fs.js'

/**
 * A Debian-like machine for caller-check tests: a root-owned AWS CLI runtime and av, and a user (uid 1000) with
 * a copied interpreter, a copied node, a copied launcher and a symlink to the genuine one in ~/bin.
 */

export const FILES: Record<string, FileFacts> = {
  '/': dir(0),
  '/usr': dir(0),
  '/usr/bin': dir(0),
  '/usr/bin/python3.11': file(0),
  '/usr/bin/aws': file(0),
  '/usr/bin/node': file(0),
  '/usr/bin/bash': file(0),
  '/opt': dir(0),
  '/opt/av': dir(0),
  '/opt/av/bin': dir(0),
  '/opt/av/bin/run.js': file(0),
  '/home': dir(0),
  '/home/u': dir(1000),
  '/home/u/bin': dir(1000),
  '/home/u/python3': file(1000),
  '/home/u/aws': file(1000),
  '/home/u/node': file(1000),
  '/home/u/av': dir(1000),
  '/home/u/av/bin': dir(1000),
  '/home/u/av/bin/run.js': file(1000),
  '/tmp': dir(0, 0o1777),
  '/tmp/writable-av': dir(0, 0o777),
  '/tmp/writable-av/run.js': file(0),
}

export const LINKS: Record<string, string> = {
  '/usr/bin/python3': '/usr/bin/python3.11',
  '/home/u/bin/av': '/opt/av/bin/run.js',
}

export const FAKE_FS: TrustFs = factsFs(FILES, LINKS)

export const snap = (s: Partial<ProcessSnapshot> & {pid: number}): ProcessSnapshot => ({
  argv: [],
  exe: null,
  ppid: 1,
  startTime: '1',
  tracerPid: 0,
  uid: 1000,
  ...s,
})

export const CONFIG_FILE = '/tmp/av-run-1/home/.aws/config'
export const CLI_ARGV = [...DEFAULT_AWS_CLI, 's3', 'ls', '--profile', 'dev']
export const LAUNCHER = snap({
  argv: ['node', '/opt/av/bin/run.js', 'run', '--', 'aws', 's3', 'ls', '--profile', 'dev'],
  exe: '/usr/bin/node',
  pid: 1000,
  ppid: 900,
  startTime: '5000',
})
export const CLI = snap({argv: CLI_ARGV, exe: '/usr/bin/python3.11', pid: 1001, ppid: 1000, startTime: '5010'})
export const HELPER = snap({
  argv: ['/usr/bin/node', '/opt/av/bin/run.js', 'credential-helper', 'aws', '--profile', 'dev'],
  exe: '/usr/bin/node',
  pid: 1002,
  ppid: 1001,
  startTime: '5020',
})
export const LAUNCHER_ENV: Record<string, string> = {
  HOME: '/home/u',
  NODE_EXTRA_CA_CERTS: '/etc/ssl/extra.pem',
  PATH: '/usr/bin:/bin',
}
export const CLI_ENV: Record<string, string> = {
  AWS_CONFIG_FILE: CONFIG_FILE,
  HOME: '/tmp/av-run-1/home',
  PATH: '/usr/bin:/bin',
}

/** A process table over fixed snapshots; `onSnapshot` may change the world as calls happen. */
export class FakeProcessTable implements ProcessTable {
  readonly calls: number[] = []
  onSnapshot?: (pid: number, call: number) => void

  constructor(
    readonly snapshots: Map<number, ProcessSnapshot> = new Map([CLI, HELPER, LAUNCHER].map((s) => [s.pid, s])),
    readonly environs: Map<number, Record<string, string>> = new Map<number, Record<string, string>>([
      [CLI.pid, CLI_ENV],
      [LAUNCHER.pid, LAUNCHER_ENV],
    ]),
  ) {}

  environ(pid: number): null | Record<string, string> {
    return this.environs.get(pid) ?? null
  }

  snapshot(pid: number): null | ProcessSnapshot {
    this.calls.push(pid)
    this.onSnapshot?.(pid, this.calls.length)
    return this.snapshots.get(pid) ?? null
  }
}
