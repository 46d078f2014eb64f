import {Flags} from '@oclif/core'

import {AvCommand} from '../base-command.js'
import {restore, type RestoreResult} from '../lib/keys/restore.js'
import {migrationDeps} from '../lib/main/migration-deps.js'

export default class Restore extends AvCommand {
  static summary = 'Put the keys av moved back into the credentials file (the exact inverse of migrate).'
  static description = `Writes each profile's keys back into the credentials file at the lines they came from, removes the credential_process lines (and sections) av added to the config file, then deletes the keychain items. After \`av migrate\` and \`av restore\` both files are byte-identical to what they were. The keys end up in a plain file again, so it asks first; without a terminal it needs --yes. In custody mode the keys leave root custody only after sudo asks your login password on the terminal; --yes changes nothing.`
  static examples = [
    '<%= config.bin %> restore --dry-run',
    '<%= config.bin %> restore --profile dev',
    '<%= config.bin %> restore --yes',
  ]
  static flags = {
    profile: Flags.string({description: 'Only this profile (repeatable).', multiple: true}),
    'dry-run': Flags.boolean({description: 'Print what would be written where and change nothing.'}),
    yes: Flags.boolean({char: 'y', description: 'Do not ask for confirmation (required without a terminal).'}),
  }

  async run(): Promise<RestoreResult> {
    const {flags} = await this.parse(Restore)
    const ctx = this.world()
    const result = await restore(migrationDeps(ctx, {json: this.jsonEnabled()}), {
      dryRun: flags['dry-run'],
      profiles: flags.profile,
      yes: flags.yes,
    })
    for (const skip of result.skipped) this.log(`Skipped ${skip.profile} (${skip.reason}): ${skip.detail}`)
    this.log(result.summary)
    return result
  }
}
