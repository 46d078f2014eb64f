import {Flags} from '@oclif/core'

import {AvCommand} from '../base-command.js'
import {logout, type LogoutResult} from '../lib/keys/sso-login.js'
import {loginDeps} from '../lib/main/migration-deps.js'

export default class Logout extends AvCommand {
  static summary =
    'Sign out of IAM Identity Center: av drops the tokens it holds and the role credentials made with them.'
  static description =
    'Ends the portal session where IAM Identity Center allows it, removes the sign-in (client registration, access ' +
    'and refresh token) from av’s store, and drops the cached role credentials of every profile that used it. For a ' +
    '`login_session` profile (`aws login`), removes the console sign-in av holds.'
  static examples = [
    '<%= config.bin %> logout --profile dev',
    '<%= config.bin %> logout --sso-session corp',
    '<%= config.bin %> logout --all',
  ]
  static flags = {
    all: Flags.boolean({description: 'Every sign-in av holds for you.', exclusive: ['profile', 'sso-session']}),
    profile: Flags.string({
      description: 'The sign-in this profile uses (default: default).',
      exclusive: ['sso-session'],
    }),
    'sso-session': Flags.string({description: 'This [sso-session] of ~/.aws/config.', helpValue: 'NAME'}),
  }

  async run(): Promise<LogoutResult> {
    const {flags} = await this.parse(Logout)
    const ctx = this.world()
    const result = await logout(loginDeps(ctx, {browser: false}), {
      ...(flags.all ? {all: true} : {}),
      ...(flags.profile === undefined ? {} : {profile: flags.profile}),
      ...(flags['sso-session'] === undefined ? {} : {session: flags['sso-session']}),
    })
    this.log(result.summary)
    return result
  }
}
