import {AvCommand} from '../../base-command.js'
import {formatGateTest, type GateTestReport, testGate} from '../../lib/gate/report.js'

/** Split our own words (`--json`, `--`) from the aws command line, which is passed on untouched. */
function splitInput(argv: string[]): {input: string[]; json: boolean} {
  let json = false
  let i = 0
  for (; i < argv.length; i++) {
    if (argv[i] === '--json') json = true
    else if (argv[i] === '--') {
      i++
      break
    } else break
  }

  const input = argv.slice(i)
  // The one-string form may carry --json after the string.
  if (input.length === 2 && input[1] === '--json' && !argv.includes('--')) {
    input.pop()
    json = true
  }

  return {input, json}
}

export default class GateTest extends AvCommand {
  static description =
    'Show what the gate decides for an AWS CLI command line, without running it. Exit 0 whatever the decision.'
  static examples = [
    '<%= config.bin %> gate test -- aws ssm get-parameter --name db --with-decryption',
    '<%= config.bin %> gate test --json "aws s3 presign s3://bucket/key"',
  ]
  static strict = false
  static summary = 'Dry-run the gate for an aws command line'
  static usage = ['gate test [--json] -- aws <args…>', 'gate test [--json] "aws <args…>"']

  public jsonEnabled(): boolean {
    return splitInput(this.argv).json
  }

  public async run(): Promise<GateTestReport['decision']> {
    // The aws words are read raw: oclif would reorder or drop repeated tokens and `--`.
    const {input} = splitInput(this.argv)
    const {env, home} = this.world()
    const {policy, warnings} = this.world().policy()
    const report = testGate(input, {env, home, policy})
    for (const w of [...warnings, ...report.warnings]) this.warn(w)
    if (!this.jsonEnabled()) this.log(formatGateTest(report))
    const {decision, category, rule, reason, service, operation, profile} = report.decision
    return {decision, category, rule, reason, service, operation, profile}
  }
}
