import {Flags} from '@oclif/core'

import {AvCommand} from '../base-command.js'
import {findAwsRuntime} from '../lib/aws/aws-runtime.js'
import {CUSTODY_LINE, KEYCHAIN_LINE} from '../lib/core/mode.js'
import {checkSudoersFile} from '../lib/install/install-custody.js'
import {DEFAULTS} from '../lib/install/install-manifest.js'
import {installAv, type InstallResult} from '../lib/install/install.js'

export default class Install extends AvCommand {
  static summary = 'Install av root-owned (sudo): the av command, the aws launcher, custody (Linux), the policy.'
  static description =
    'Install av root-owned (run with sudo): copy it under --prefix, write the `av` command and the `aws` launcher ' +
    'shim, and name the AWS CLI runtime in the policy. On Linux this sets up custody: keys in a root-owned store, ' +
    'root runs the launcher, and a held command needs your password. `--keychain` keeps keys in the OS keychain ' +
    'instead, where an agent running as you can read them and answer approvals (macOS always uses it). Run again to ' +
    'update; `sudo av uninstall` removes it.'
  static examples = [
    'sudo <%= config.bin %> install',
    'sudo <%= config.bin %> install --link-aws',
    'sudo <%= config.bin %> install --keychain',
  ]
  static flags = {
    'bin-dir': Flags.string({default: DEFAULTS.binDir, description: 'where the `av` command (and the aws link) go'}),
    custody: Flags.boolean({
      description: 'custody mode (the Linux default): keys in a root-owned store, root runs the launcher',
      exclusive: ['keychain'],
    }),
    keychain: Flags.boolean({
      description: 'keychain mode: keys in the OS keychain (an agent running as you can read them)',
      exclusive: ['custody'],
    }),
    'custody-dir': Flags.string({default: DEFAULTS.custodyDir, description: 'the root-owned custody key store'}),
    'link-aws': Flags.boolean({description: 'also link <bin-dir>/aws to the launcher shim'}),
    'run-dir': Flags.string({default: DEFAULTS.runDir, description: "where root keeps custody runs' records"}),
    policy: Flags.string({default: DEFAULTS.policy, description: 'the root-owned policy file to write awsCli into'}),
    prefix: Flags.string({default: DEFAULTS.prefix, description: 'where the root-owned copy of av goes'}),
    'sudoers-file': Flags.string({
      default: DEFAULTS.sudoersFile,
      description: 'the sudoers drop-in for custody (a name under /etc/sudoers.d)',
    }),
  }

  async run(): Promise<InstallResult> {
    const {flags} = await this.parse(Install)
    const {env, platform, uid} = this.world()
    const custody = flags.custody || (!flags.keychain && platform === 'linux')
    const result = installAv(
      {
        binDir: flags['bin-dir'],
        linkAws: flags['link-aws'],
        policyFile: flags.policy,
        prefix: flags.prefix,
        ...(custody
          ? {custody: {dir: flags['custody-dir'], runDir: flags['run-dir'], sudoersFile: flags['sudoers-file']}}
          : {}),
      },
      {
        checkSudoers: checkSudoersFile,
        findRuntime: (awsCli) => findAwsRuntime({env, platform, policy: {awsCli}}),
        node: process.execPath,
        source: this.config.root,
        uid,
      },
    )
    this.log(`Installed av: ${result.written.join(', ')}`)
    this.log(`AWS CLI runtime: ${result.awsCli.join(' ')}`)
    this.log(custody ? CUSTODY_LINE : KEYCHAIN_LINE)
    return result
  }
}
