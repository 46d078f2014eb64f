import {Flags} from '@oclif/core'

import {AvCommand} from '../base-command.js'
import {login, type LoginResult} from '../lib/keys/sso-login.js'
import {loginDeps} from '../lib/main/migration-deps.js'

export default class Login extends AvCommand {
  static summary =
    'Sign in to IAM Identity Center (SSO) through av: av holds the tokens, the AWS CLI gets role credentials.'
  static description = `Runs the OIDC device sign-in for a profile's sso-session (or legacy sso_start_url): it shows a URL and a code to approve in your browser (and opens the browser when there is a display), then keeps the client registration, access token and refresh token in av's store: root custody in custody mode (root signs in itself, no token enters a process of yours), the OS keychain otherwise. Nothing is written under ~/.aws/sso/cache. Runs of \`aws --profile P\` through av then get role credentials for the profile's sso_account_id and sso_role_name; the access token is renewed without you until the sign-in ends.`
  static examples = [
    '<%= config.bin %> login --profile dev',
    '<%= config.bin %> login --sso-session corp',
    '<%= config.bin %> login --profile dev --no-browser',
  ]
  static flags = {
    browser: Flags.boolean({
      allowNo: true,
      default: true,
      description: 'Open the sign-in page in your browser when there is a display.',
    }),
    profile: Flags.string({description: 'The profile to sign in for (default: default).', exclusive: ['sso-session']}),
    'sso-session': Flags.string({description: 'Sign in to this [sso-session] of ~/.aws/config.', helpValue: 'NAME'}),
  }

  async run(): Promise<LoginResult> {
    const {flags} = await this.parse(Login)
    const ctx = this.world()
    const result = await login(loginDeps(ctx, {browser: flags.browser}), {
      ...(flags.profile === undefined ? {} : {profile: flags.profile}),
      ...(flags['sso-session'] === undefined ? {} : {session: flags['sso-session']}),
    })
    this.log(result.summary)
    return result
  }
}
