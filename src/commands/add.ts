import {Flags} from '@oclif/core'

import {AvCommand} from '../base-command.js'
import {addKey, type AddResult} from '../lib/keys/add.js'
import {rotateKeys, type RotateRunResult} from '../lib/keys/rotate-run.js'
import {askYesNo} from '../lib/keys/step-display.js'
import {addDeps, rotateDeps} from '../lib/main/migration-deps.js'
import {avEntryPoint} from './migrate.js'

export default class Add extends AvCommand {
  static summary = 'Store an AWS key you type (echo off) in av, without it ever touching a file.'
  static description = `Asks the access key id and secret access key on the terminal with echo off (never from argv, a file or the environment), checks the key with GetCallerIdentity, stores it where \`av migrate\` would (root custody, or the OS keychain in keychain mode) and points the profile in ~/.aws/config at av. A profile that already has keys in the credentials file is moved with \`av migrate\` instead. Then it offers \`av rotate\`: the key you typed has been on your screen or clipboard; a rotated one has only ever existed inside av. \`av restore\` writes the key into the credentials file, like a migrated one.`
  static examples = ['<%= config.bin %> add --profile dev', '<%= config.bin %> add --profile dev --rotate']
  static flags = {
    profile: Flags.string({description: 'The profile to add the key for.', required: true}),
    force: Flags.boolean({description: "Replace the profile's different credential_process (restore puts it back)."}),
    'no-verify': Flags.boolean({description: 'Store the key without checking it with GetCallerIdentity first.'}),
    rotate: Flags.boolean({description: 'Rotate the key right after adding it, without asking.'}),
  }

  async run(): Promise<AddResult & {rotation?: RotateRunResult}> {
    const {flags} = await this.parse(Add)
    const ctx = this.world()
    const json = this.jsonEnabled()
    const result = await addKey(addDeps(ctx, {avPath: avEntryPoint(), json}), {
      force: flags.force,
      profile: flags.profile,
      verify: !flags['no-verify'],
    })
    this.log(result.summary)
    const rotate =
      flags.rotate ||
      (!json &&
        ctx.interactive &&
        (await askYesNo(
          `Rotate it now, so that the live key is one no one has seen (av rotate --profile ${result.profile})?`,
        )))
    if (!rotate) return result
    // The person just said yes (or --rotate): keychain mode asks nothing more; custody mode still asks the password.
    const rotation = await rotateKeys(rotateDeps(ctx, {json}), {profiles: [result.profile], yes: true})
    this.log(rotation.summary)
    return {...result, rotation}
  }
}
