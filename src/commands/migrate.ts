import {Flags} from '@oclif/core'
import {realpathSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

import {AvCommand} from '../base-command.js'
import {migrate, type MigrateResult} from '../lib/keys/migrate.js'
import {migrationDeps} from '../lib/main/migration-deps.js'

/** The absolute real path of this av's bin/run.js: what config's credential_process will run. */
export function avEntryPoint(): string {
  return realpathSync(fileURLToPath(new URL('../../bin/run.js', import.meta.url)))
}

export default class Migrate extends AvCommand {
  static summary = 'Move your AWS keys from the credentials file into the OS keychain.'
  static description = `Every profile with aws_access_key_id and aws_secret_access_key in ~/.aws/credentials (or AWS_SHARED_CREDENTIALS_FILE) is moved: the keys go into the OS keychain and are read back, the profile's config section (~/.aws/config or AWS_CONFIG_FILE) gets a credential_process line that runs av, then the key lines leave the credentials file. Every other byte of both files stays. Profiles that use a role, aws login or another credential_process are skipped and listed. IAM Identity Center (SSO) profiles keep their config as it is: the tokens \`aws sso login\` left in plaintext in ~/.aws/sso/cache move into av's store (read back first), and the cache file is deleted; \`av login\` renews such a sign-in. \`av restore\` undoes the key moves exactly (SSO tokens stay with av: \`av logout\` removes them). With custody installed (\`sudo av install --custody\`) the keys go into root custody instead, which reads them back itself, and keys an earlier migrate left in the OS keychain move there too.`
  static examples = [
    '<%= config.bin %> migrate --dry-run',
    '<%= config.bin %> migrate --profile dev --profile prod',
    '<%= config.bin %> migrate --yes --json',
  ]
  static flags = {
    profile: Flags.string({description: 'Only this profile (repeatable).', multiple: true}),
    'dry-run': Flags.boolean({description: 'Print the plan and change nothing.'}),
    yes: Flags.boolean({char: 'y', description: 'Do not ask for confirmation (required without a terminal).'}),
    force: Flags.boolean({
      description: "Replace a profile's different credential_process (restore puts it back).",
    }),
  }

  async run(): Promise<MigrateResult> {
    const {flags} = await this.parse(Migrate)
    const ctx = this.world()
    const result = await migrate(migrationDeps(ctx, {json: this.jsonEnabled()}), {
      avPath: avEntryPoint(),
      dryRun: flags['dry-run'],
      force: flags.force,
      profiles: flags.profile,
      yes: flags.yes,
    })
    if (result.dryRun && result.migrated.length > 0) this.log(`Would move: ${result.migrated.join(', ')}`)
    for (const skip of result.skipped) this.log(`Skipped ${skip.profile} (${skip.reason}): ${skip.detail}`)
    if (result.already.length > 0) this.log(`Already in ${result.store}: ${result.already.join(', ')}`)
    this.log(result.summary)
    return result
  }
}
