import {Args} from '@oclif/core'

import {AvCommand} from '../base-command.js'
import {deny} from '../lib/custody/approvals.js'

export default class Deny extends AvCommand {
  static summary = 'End a held AWS CLI run at once (custody mode).'
  static examples = ['<%= config.bin %> deny 7f3a2c']
  static args = {id: Args.string({description: 'the id the held run printed', required: true})}

  async run(): Promise<unknown> {
    const {args} = await this.parse(Deny)
    const ctx = this.world()
    const write = (text: string) => {
      if (!this.jsonEnabled()) ctx.stdout.write(text)
    }

    return deny(args.id, {now: () => ctx.clock.now(), policy: ctx.policy().policy, write})
  }
}
