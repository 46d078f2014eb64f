/**
 * `av run -- aws <args>`. bin/run.js takes a fast path to lib/main/run-main.ts before oclif loads; this command exists
 * for `av help run`, the manifest, and any caller that reaches it through oclif — it delegates to the same code.
 */
import {AvCommand} from '../base-command.js'
import {main, RUN_USAGE} from '../lib/main/run-main.js'

export default class Run extends AvCommand {
  static summary = 'Run the AWS CLI through av: gate first, then a sealed root-owned AWS CLI.'
  static description =
    'Run the AWS CLI through av: the gate classifies the command first, then a root-owned AWS CLI runs in a ' +
    'sealed runtime and gets credentials from the OS keychain for this run only. Exits with the CLI’s exit code ' +
    '(125 av failed, 126 refused, 127 AWS CLI not found).'
  static enableJsonFlag = false
  static examples = [
    '<%= config.bin %> run -- aws sts get-caller-identity',
    '<%= config.bin %> run -- aws s3 cp - s3://bucket/key',
  ]
  static strict = false
  static usage = RUN_USAGE.replace(/^av /, '')

  async run(): Promise<void> {
    process.exitCode = await main(this.argv)
  }
}
