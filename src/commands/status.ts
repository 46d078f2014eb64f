import {AvCommand} from '../base-command.js'
import {realContext} from '../lib/context.js'
import {migrationDeps} from '../lib/migration-deps.js'
import {readStatus, type StatusReport} from '../lib/status.js'

const WHERE = {
  none: 'no credentials',
  other: 'other source',
  plaintext: 'PLAINTEXT FILE',
  store: 'OS keychain',
} as const

export default class Status extends AvCommand {
  static summary = 'Show where each AWS profile keeps its credentials and whether config runs av for it.'
  static examples = ['<%= config.bin %> status', '<%= config.bin %> status --json']

  async run(): Promise<StatusReport> {
    await this.parse(Status)
    const report = await readStatus(migrationDeps(realContext(), {json: true}))
    for (const p of report.profiles) {
      const where = p.source === 'other' ? `${WHERE.other}: ${p.detail}` : WHERE[p.source]
      this.log(`${p.profile}: ${where}${p.referencesAv ? ', config runs av' : ''}`)
      for (const w of p.warnings) this.log(`  warning: ${w}`)
    }

    for (const w of report.warnings) this.log(`warning: ${w}`)
    if (report.profiles.length === 0) this.log(`no profiles in ${report.files.credentials} or ${report.files.config}`)
    return report
  }
}
