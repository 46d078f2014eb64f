import {Args} from '@oclif/core'

import {AvCommand} from '../base-command.js'
import {approve} from '../lib/custody/approvals.js'

export default class Approve extends AvCommand {
  static summary = 'Approve a held AWS CLI run with your password (custody mode).'
  static description =
    'A command av holds (it could print a secret) waits until you approve it. With no ID, list the held runs as ' +
    'root sees them; with an ID, show that one and approve it: sudo asks your login password, and root lets exactly ' +
    'that run go on. An agent can run this too, but it does not know your password.'
  static examples = ['<%= config.bin %> approve', '<%= config.bin %> approve 7f3a2c']
  static args = {id: Args.string({description: 'the id the held run printed', required: false})}

  async run(): Promise<unknown> {
    const {args} = await this.parse(Approve)
    const ctx = this.world()
    const write = (text: string) => {
      if (!this.jsonEnabled()) ctx.stdout.write(text)
    }

    return approve(args.id, {now: () => ctx.clock.now(), policy: ctx.policy().policy, write})
  }
}
