import {Flags} from '@oclif/core'

import {AvCommand} from '../../base-command.js'
import {realContext} from '../../lib/context.js'
import {type ClearResult, clearSessions} from '../../lib/sessions.js'

export default class SessionClear extends AvCommand {
  static description =
    'Drop cached STS session and role credentials from the keychain, so the next run gets fresh ones from STS. ' +
    'Durable keys are not touched.'
  static examples = ['<%= config.bin %> session clear', '<%= config.bin %> session clear --profile dev --json']
  static flags = {
    profile: Flags.string({description: 'only this profile (default: every profile)', helpValue: 'PROFILE'}),
  }

  async run(): Promise<ClearResult> {
    const {flags} = await this.parse(SessionClear)
    const result = await clearSessions(realContext(), flags.profile)
    if (result.cleared.length === 0) this.log('No cached sessions to clear.')
    else this.log(`Cleared ${result.cleared.length} cached session(s): ${result.cleared.join(', ')}`)
    return result
  }
}
