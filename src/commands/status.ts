import type {SessionMode} from '../lib/sessions/session-settings.js'

import {AvCommand} from '../base-command.js'
import {KEYCHAIN_LINE} from '../lib/core/mode.js'
import {type KeyMode, type ProfileStatus, readStatus, type StatusReport} from '../lib/inspect/status.js'
import {statusDeps} from '../lib/main/migration-deps.js'

const WHERE = {
  none: 'no credentials',
  other: 'other source',
  plaintext: 'PLAINTEXT FILE',
} as const

const KEPT_IN: Record<KeyMode, string> = {custody: 'root custody', keychain: 'OS keychain'}

function describeRelease(mode: SessionMode): string {
  switch (mode.mode) {
    case 'durable': {
      return `the durable key (${mode.reason})`
    }

    case 'invalid': {
      return `nothing: ${mode.problem}`
    }

    case 'login': {
      return `the console sign-in's credentials (${mode.session}), renewed by av while the sign-in lasts`
    }

    case 'role': {
      return `role credentials for ${mode.roleArn} (${mode.durationSeconds / 60} min, from ${mode.source})`
    }

    case 'session': {
      return `STS session credentials (${mode.durationSeconds / 60} min${mode.mfa ? ', MFA' : ''})`
    }

    case 'sso': {
      return mode.accountId && mode.roleName
        ? `IAM Identity Center role credentials for ${mode.accountId}/${mode.roleName}`
        : 'nothing: the profile names no sso_account_id / sso_role_name'
    }
  }
}

/** `SSO session corp, account 1234, role Admin, token until 2026-…` or `…, no token cached`. */
function describeSso(sso: NonNullable<ProfileStatus['sso']>): string {
  const parts = [sso.session === null ? `SSO start URL ${sso.startUrl}` : `SSO session ${sso.session}`]
  if (sso.account !== undefined) parts.push(`account ${sso.account}`)
  if (sso.role !== undefined) parts.push(`role ${sso.role}`)
  if (sso.signedIn === null) parts.push('not signed in through av (`av login`)')
  else {
    const until = sso.signedIn.expiresAt === null ? '' : `, access token until ${sso.signedIn.expiresAt}`
    parts.push(`signed in through av (tokens in ${sso.signedIn.store}${until})`)
  }

  if (sso.token !== null) parts.push(`PLAINTEXT token cache until ${sso.token.expiresAt ?? 'an unknown time'}`)
  return parts.join(', ')
}

export default class Status extends AvCommand {
  static summary =
    'Show the mode (keys in the OS keychain or root custody), where each AWS profile keeps its credentials, and whether config runs av for it.'
  static examples = ['<%= config.bin %> status', '<%= config.bin %> status --json']

  async run(): Promise<StatusReport> {
    await this.parse(Status)
    const report = await readStatus(statusDeps(this.world()))
    this.log(
      report.mode === 'custody'
        ? `mode: custody (durable keys in root custody, through ${report.custodyEntry})`
        : 'mode: keychain (durable keys in your OS keychain)',
    )
    if (report.mode === 'keychain') this.log(KEYCHAIN_LINE.replace(/^mode: keychain: /, 'warning: '))
    for (const p of report.profiles) {
      let where: string
      if (p.source === 'store') where = KEPT_IN[p.keyIn ?? report.mode]
      else if (p.source === 'other') where = `${WHERE.other}: ${p.detail}`
      else where = WHERE[p.source]
      const releases = p.releases ? `; av releases ${describeRelease(p.releases)}` : ''
      const age = p.keyAge ? `; key age ${p.keyAge.text}` : ''
      const sso = p.sso ? `; ${describeSso(p.sso)}` : ''
      this.log(`${p.profile}: ${where}${p.referencesAv ? ', config runs av' : ''}${releases}${age}${sso}`)
      for (const w of p.warnings) this.log(`  warning: ${w}`)
    }

    for (const w of report.warnings) this.log(`warning: ${w}`)
    if (report.profiles.length === 0) this.log(`no profiles in ${report.files.credentials} or ${report.files.config}`)
    return report
  }
}
