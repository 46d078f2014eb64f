import {Flags} from '@oclif/core'

import {AvCommand} from '../../base-command.js'
import {main} from '../../lib/main/helper-main.js'

/**
 * Listed for `av help` and the manifest only: bin/run.js sends real calls straight to helper-main without
 * loading oclif. Invoked through oclif anyway, it runs the same lib function.
 */
export default class CredentialHelperAws extends AvCommand {
  static description =
    'Hand the AWS CLI its credentials as a credential_process, only when the caller is an AWS CLI that `av run` started for this run.'
  static enableJsonFlag = false
  static examples = [
    {
      command: '<%= config.bin %> run -- aws s3 ls',
      description: 'Never called by hand: the AWS CLI calls it inside `av run`, from the config av generates.',
    },
  ]
  static flags = {
    profile: Flags.string({default: 'default', description: 'Profile whose keys to hand out (must match the run).'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(CredentialHelperAws)
    const code = await main(['--profile', flags.profile])
    if (code !== 0) this.exit(code)
  }
}
