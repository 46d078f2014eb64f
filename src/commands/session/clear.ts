import {Flags} from '@oclif/core'

import {AvCommand} from '../../base-command.js'
import {durableStore} from '../../lib/main/migration-deps.js'
import {type ClearResult, clearSessions} from '../../lib/sessions/sessions.js'

export default class SessionClear extends AvCommand {
  static description =
    'Drop cached STS session and role credentials from the keychain (and, with custody installed, from root ' +
    'custody), so the next run gets fresh ones from STS. Durable keys are not touched.'
  static examples = ['<%= config.bin %> session clear', '<%= config.bin %> session clear --profile dev --json']
  static flags = {
    profile: Flags.string({description: 'only this profile (default: every profile)', helpValue: 'PROFILE'}),
  }

  async run(): Promise<ClearResult> {
    const {flags} = await this.parse(SessionClear)
    const ctx = this.world()
    const custody = durableStore(ctx)
    const result = await clearSessions(ctx, flags.profile)
    if (custody !== ctx.store)
      result.cleared.push(...(await clearSessions({...ctx, store: custody}, flags.profile)).cleared)
    if (result.cleared.length === 0) this.log('No cached sessions to clear.')
    else this.log(`Cleared ${result.cleared.length} cached session(s): ${result.cleared.join(', ')}`)
    return result
  }
}
