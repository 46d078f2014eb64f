import {Flags} from '@oclif/core'

import {AvCommand} from '../../base-command.js'
import {formatRules, listRules, type RuleRow} from '../../lib/gate/report.js'

export default class GateList extends AvCommand {
  static description =
    "List the gate rules and their decisions, grouped by where each came from: the catalog, the documentation scan of the AWS CLI's service models, or the hand-written rules."
  static examples = [
    '<%= config.bin %> gate list',
    '<%= config.bin %> gate list --category signed-url --confidence high',
    '<%= config.bin %> gate list --source doc-scan',
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
        'elevated',
        'external-program',
        'unknown',
      ],
    }),
    confidence: Flags.string({description: 'only rules of this confidence', options: ['high', 'medium', 'low']}),
    source: Flags.string({
      description: 'only rules from this source: the catalog, the documentation scan, or the hand-written list',
      options: ['catalog', 'doc-scan', 'hand'],
    }),
  }
  static summary = 'List the gate rules'

  public async run(): Promise<{rules: RuleRow[]}> {
    const {flags} = await this.parse(GateList)
    const {policy, warnings} = this.world().policy()
    for (const w of warnings) this.warn(w)
    const rules = listRules({category: flags.category, confidence: flags.confidence, source: flags.source}, policy)
    if (!this.jsonEnabled()) this.log(formatRules(rules))
    return {rules}
  }
}
