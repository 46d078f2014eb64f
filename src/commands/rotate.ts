import {Flags} from '@oclif/core'

import {AvCommand} from '../base-command.js'
import {rotateKeys, type RotateRunResult} from '../lib/keys/rotate-run.js'
import {rotateDeps} from '../lib/main/migration-deps.js'

export default class Rotate extends AvCommand {
  static summary = 'Replace each durable AWS key av holds by a new one that no file and no agent has seen.'
  static description = `For each profile: CreateAccessKey with the current key, store the new pair, wait until it works (GetCallerIdentity), DeleteAccessKey the old one, drop cached sessions. In custody mode root does all of it after sudo asks your login password (the new secret never enters a process of yours); in keychain mode av does it here, after a confirmation (--yes without a terminal). A rotation killed at any step is finished by running av rotate again. When the IAM user already has two keys it stops and changes nothing. Afterwards \`av restore\` writes back the new key: the old one no longer exists.`
  static examples = [
    '<%= config.bin %> rotate --profile dev',
    '<%= config.bin %> rotate',
    '<%= config.bin %> rotate --profile dev --yes --json',
  ]
  static flags = {
    profile: Flags.string({
      description: 'Only this profile (repeatable; default: every key av holds).',
      multiple: true,
    }),
    yes: Flags.boolean({
      char: 'y',
      description: 'Keychain mode: do not ask for confirmation. Custody mode asks your password anyway.',
    }),
  }

  async run(): Promise<RotateRunResult> {
    const {flags} = await this.parse(Rotate)
    const ctx = this.world()
    const result = await rotateKeys(rotateDeps(ctx, {json: this.jsonEnabled()}), {
      profiles: flags.profile,
      yes: flags.yes,
    })
    this.log(result.summary)
    return result
  }
}
