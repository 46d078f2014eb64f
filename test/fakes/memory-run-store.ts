import type {ApprovalAnswerRecord, PendingApproval, RunRecord} from '../../src/lib/custody/run-record.js'

import {isRunId, RunStore} from '../../src/lib/custody/run-record.js'

/**
 * RunStore in memory, for the root launcher's and root approval's units (run-record.test.ts tests the real one in
 * a root-owned directory). Same contract: records of another uid and bad ids read as null, the first answer
 * stands, removeRun / removePending take everything of that id. `calls` lists what happened, in order.
 */
export class MemoryRunStore extends RunStore {
  readonly answers = new Map<string, ApprovalAnswerRecord>()
  readonly calls: string[] = []
  /** The generated config of each live run, by its HOME. */
  readonly configs = new Map<string, string>()
  readonly homes = new Set<string>()
  readonly pending = new Map<string, PendingApproval>()
  readonly records = new Map<string, RunRecord>()
  private next = 0

  constructor(runDir = '/run/av', uid = 1000) {
    super(runDir, uid)
  }

  answer(pending: PendingApproval, answer: ApprovalAnswerRecord['answer'], byPid: number, at: number): boolean {
    this.calls.push(`answer ${pending.id} ${answer}`)
    if (this.answers.has(pending.id)) return false
    this.answers.set(pending.id, {answer, at, binding: pending.binding, byPid, id: pending.id, v: 1})
    return true
  }

  createPending(input: Omit<PendingApproval, 'id' | 'uid' | 'v'>): PendingApproval {
    const id = (0xa0_00_00 + this.next++).toString(16)
    const pending: PendingApproval = {...input, id, uid: this.uid, v: 1}
    this.pending.set(id, pending)
    this.calls.push(`createPending ${id}`)
    return pending
  }

  createRun(): {home: string; id: string} {
    const id = (0xab_cd_00_00_00_00_00_00n + BigInt(this.next++)).toString(16)
    const home = `${this.dir}/home-${id}`
    this.homes.add(home)
    this.calls.push(`createRun ${id}`)
    return {home, id}
  }

  listPending(now: number): PendingApproval[] {
    return [...this.pending.values()].filter((p) => p.expires > now).sort((a, b) => a.created - b.created)
  }

  readAnswer(id: string): ApprovalAnswerRecord | null {
    return (isRunId(id) && this.answers.get(id)) || null
  }

  readPending(id: string): null | PendingApproval {
    return (isRunId(id) && this.pending.get(id)) || null
  }

  readRecord(id: string): null | RunRecord {
    const record = isRunId(id) ? this.records.get(id) : undefined
    return record?.uid === this.uid ? record : null
  }

  removePending(id: string): void {
    this.calls.push(`removePending ${id}`)
    this.pending.delete(id)
    this.answers.delete(id)
  }

  removeRun(id: string): void {
    this.calls.push(`removeRun ${id}`)
    this.records.delete(id)
    const home = `${this.dir}/home-${id}`
    this.homes.delete(home)
    this.configs.delete(home)
  }

  serveDir(id: string): string {
    this.calls.push(`serveDir ${id}`)
    return `${this.dir}/serve-${id}`
  }

  writeConfig(home: string, text: string): string {
    this.calls.push('writeConfig')
    this.configs.set(home, text)
    return `${home}/.aws/config`
  }

  writeRecord(record: RunRecord): void {
    this.calls.push(`writeRecord ${record.id}`)
    this.records.set(record.id, record)
  }
}
