/**
 * The audit trail: append-only JSON lines under the state dir, one per release, refusal and gate decision,
 * written *before* a secret is released. Never a secret, token or signature in it.
 *
 * This first version appends single O_APPEND writes (atomic for lines below PIPE_BUF on local file systems);
 * the hash chain, rotation and `av log --verify` come with the audit issue.
 */
import {closeSync, fsyncSync, mkdirSync, openSync, writeSync} from 'node:fs'
import path from 'node:path'

import {AvError} from './errors.js'

export type AuditEventName =
  'gate' | 'install' | 'migrate' | 'refusal' | 'release' | 'restore' | 'run' | 'session-clear' | 'uninstall'

export interface AuditEvent {
  event: AuditEventName
  /** Every other field is non-secret context: profile, reason code, decision, argv hash, process chain… */
  [field: string]: unknown
}

export interface AuditSink {
  /** Resolves once the line is durably written; rejects with `audit-failed` otherwise. */
  record(event: AuditEvent): Promise<void>
}

export const AUDIT_FILE = 'audit.jsonl'

export class FileAuditLog implements AuditSink {
  readonly file: string

  constructor(
    readonly dir: string,
    private readonly now: () => number = Date.now,
  ) {
    this.file = path.join(dir, AUDIT_FILE)
  }

  async record(event: AuditEvent): Promise<void> {
    const line = JSON.stringify({time: new Date(this.now()).toISOString(), pid: process.pid, ...event}) + '\n'
    try {
      mkdirSync(this.dir, {mode: 0o700, recursive: true})
      const fd = openSync(this.file, 'a', 0o600)
      try {
        writeSync(fd, line)
        fsyncSync(fd)
      } finally {
        closeSync(fd)
      }
    } catch (error) {
      throw new AvError('audit-failed', `the audit log ${this.file} cannot be written (${(error as Error).message})`, {
        cause: error,
        suggestion: `Make ${this.dir} writable by you (av refuses to release credentials it cannot record).`,
      })
    }
  }
}
