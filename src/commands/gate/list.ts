import {Flags} from '@oclif/core'

import {AvCommand} from '../../base-command.js'
import {formatRules, listRules, type RuleRow} from '../../lib/gate/report.js'
import {loadPolicy} from '../../lib/policy.js'

export default class GateList extends AvCommand {
  static description = 'List the gate rules (the generated catalog and the hand-written rules) and their decisions.'
  static examples = [
    '<%= config.bin %> gate list',
    '<%= config.bin %> gate list --category signed-url --confidence high',
    '<%= config.bin %> gate list --json',
  ]
  static flags = {
    category: Flags.string({
      description: 'only rules of this category',
      options: [
        'credential',
        'token',
        'password',
        'private-key',
        'decrypted-secret',
        'signed-url',
        'transport',
        'debug',
        'unknown',
      ],
    }),
    confidence: Flags.string({description: 'only rules of this confidence', options: ['high', 'medium', 'low']}),
  }
  static summary = 'List the gate rules'

  public async run(): Promise<{rules: RuleRow[]}> {
    const {flags} = await this.parse(GateList)
    const {policy, warnings} = loadPolicy({env: process.env})
    for (const w of warnings) this.warn(w)
    const rules = listRules({category: flags.category, confidence: flags.confidence}, policy)
    if (!this.jsonEnabled()) this.log(formatRules(rules))
    return {rules}
  }
}
