import {Flags} from '@oclif/core'
import path from 'node:path'

import {AvCommand} from '../base-command.js'
import {EXIT} from '../lib/core/errors.js'
import {runtimeToCheck} from '../lib/inspect/doctor-install.js'
import {systemMachineFacts} from '../lib/inspect/doctor-machine.js'
import {type DoctorReport, formatDoctorReport, runDoctor} from '../lib/inspect/doctor.js'
import {keyAgesOf} from '../lib/main/migration-deps.js'
import {userAuditDir} from '../lib/world/context.js'

export default class Doctor extends AvCommand {
  static description = `Check what is still exposed and what av depends on.

Plaintext keys in files, the environment or CLI caches; profiles not using this av (or a user-writable one);
av and the AWS CLI runtime root-owned; the \`aws\` on PATH; plugins, history, aliases and models; the mode (OS
keychain or root custody); the secret store and the token key; in custody mode, the entry point, whether root
custody answers, and durable keys left in your keychain; ptrace scope and core dumps; the audit trail; each
durable key's age (IAM's CreateDate, asked with the key itself, else when av stored it), with \`av rotate\` past
90 days. Exits 1 when something is exposed.`
  static examples = [
    '<%= config.bin %> doctor',
    '<%= config.bin %> doctor --json',
    '<%= config.bin %> doctor --offline',
  ]
  static flags = {
    offline: Flags.boolean({
      description: "Do not ask IAM the keys' ages: use the dates av recorded when it stored them.",
    }),
  }

  async run(): Promise<DoctorReport> {
    const {flags} = await this.parse(Doctor)
    const ctx = this.world()
    const {policy, warnings} = ctx.policy()
    for (const warning of warnings) this.warn(warning)
    const report = await runDoctor({
      ...ctx,
      auditDir: userAuditDir(ctx),
      avBin: path.join(this.config.root, 'bin', 'run.js'),
      custody: policy.custody,
      keyAges: {now: ctx.clock.now(), read: keyAgesOf(ctx, {offline: flags.offline})},
      machine: systemMachineFacts(ctx.env),
      runtime: runtimeToCheck(policy.awsCli, ctx.platform),
    })
    if (!this.jsonEnabled()) this.log(formatDoctorReport(report))
    // Set, not thrown: with --json the report must still be printed (oclif prints what run returns).
    if (report.exposed) process.exitCode = EXIT.findings
    return report
  }
}
