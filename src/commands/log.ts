import {Flags} from '@oclif/core'

import {AvCommand} from '../base-command.js'
import {
  type AuditEntry,
  type AuditFilter,
  followAuditLog,
  formatAuditHeader,
  formatAuditRow,
  parseSince,
  readAuditEntries,
} from '../lib/audit/audit-reader.js'
import {formatVerifyResult, verifyAuditLog} from '../lib/audit/audit-verify.js'
import {AUDIT_EVENTS} from '../lib/audit/audit.js'
import {EXIT} from '../lib/core/errors.js'
import {userAuditDir} from '../lib/world/context.js'

export default class Log extends AvCommand {
  static description = `Show the audit trail: every credential release, helper refusal and gate decision.

--json prints JSON lines (one object per line, the log's own format), not one JSON document, so it can be
streamed and followed; with --verify it prints one object {ok, lines, files, firstBroken?}.
--verify checks the whole hash chain (edits, deleted or reordered lines, a truncated tail, across rotated files)
and exits 1 at the first broken line.`
  // `--json` here means JSON lines (one object per entry), which oclif's single-document JSON flag cannot print.
  static enableJsonFlag = false
  static examples = [
    '<%= config.bin %> log --since 1h',
    '<%= config.bin %> log --profile prod --event refusal',
    '<%= config.bin %> log -f --json',
    '<%= config.bin %> log --verify',
  ]
  static flags = {
    event: Flags.string({description: 'only this kind of event', options: AUDIT_EVENTS}),
    follow: Flags.boolean({char: 'f', description: 'keep printing new entries as they are written (Ctrl-C stops)'}),
    json: Flags.boolean({description: 'one JSON object per line (JSON lines)'}),
    profile: Flags.string({description: 'only entries for this AWS profile'}),
    since: Flags.string({
      description: 'only entries newer than a duration (15m, 2h, 1d) or a time (2026-11-28T10:00Z)',
    }),
    verify: Flags.boolean({
      description: 'check the hash chain and report the first broken line (exit 1 when broken)',
      exclusive: ['follow', 'since', 'profile', 'event'],
    }),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Log)
    const ctx = this.world()
    const dir = userAuditDir(ctx)

    if (flags.verify) {
      const result = await verifyAuditLog(dir, ctx.store)
      this.log(flags.json ? JSON.stringify(result) : formatVerifyResult(result, dir))

      if (!result.ok) this.exit(EXIT.findings)
      return
    }

    const filter: AuditFilter = {event: flags.event, profile: flags.profile}
    if (flags.since !== undefined) filter.since = parseSince(flags.since, ctx.clock.now())
    const print = flags.json
      ? (entry: AuditEntry) => this.log(JSON.stringify(entry))
      : (entry: AuditEntry) => this.log(formatAuditRow(entry))
    if (!flags.json) this.log(formatAuditHeader())

    if (flags.follow) {
      const stop = new AbortController()
      const onSignal = () => stop.abort()
      process.once('SIGINT', onSignal)
      process.once('SIGTERM', onSignal)
      await followAuditLog(dir, filter, print, {last: flags.since === undefined ? 10 : undefined, signal: stop.signal})
      return
    }

    for (const entry of readAuditEntries(dir, filter)) print(entry)
  }
}
