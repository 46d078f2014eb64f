import {Flags} from '@oclif/core'

import {AvCommand} from '../base-command.js'
import {DEFAULTS} from '../lib/install/install-manifest.js'
import {uninstallAv, type UninstallResult} from '../lib/install/uninstall.js'

export default class Uninstall extends AvCommand {
  static summary = 'Remove what `sudo av install` wrote.'
  static description =
    'Remove what `sudo av install` wrote (run with sudo), as listed in <prefix>/install-manifest.json. Files changed ' +
    "since are kept and named. With custody installed, each user's durable keys first go back into their own " +
    'OS keychain (their session must be running, so run it from that session, e.g. `sudo -E av uninstall`); ' +
    'nothing is removed unless every key went. Your keys stay in the OS keychain; `av restore` puts them back in ~/.aws.'
  static examples = ['sudo <%= config.bin %> uninstall']
  static flags = {
    prefix: Flags.string({default: DEFAULTS.prefix, description: 'the prefix av was installed under'}),
  }

  async run(): Promise<UninstallResult> {
    const {flags} = await this.parse(Uninstall)
    const result = uninstallAv({prefix: flags.prefix}, {uid: this.world().uid})
    if (result.returned.length > 0) this.log(`Keys returned to the OS keychain of: ${result.returned.join(', ')}`)
    this.log(`Removed: ${result.removed.join(', ') || 'nothing'}`)
    if (result.restored.length > 0) this.log(`Restored awsCli in: ${result.restored.join(', ')}`)
    if (result.kept.length > 0) this.log(`Kept (changed since install, or not empty): ${result.kept.join(', ')}`)
    return result
  }
}
