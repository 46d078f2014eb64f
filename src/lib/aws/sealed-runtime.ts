import {createHash} from 'node:crypto'

/**
 * The sealed runtime: what the AWS CLI child of `av run` sees. Two pure builders — the child's environment
 * (from an allowlist only) and the generated AWS config (only the bound profile's non-secret settings from an
 * allowlist, plus av's credential_process line) — and the notice about user settings that do not apply inside.
 *
 * Nothing the user (or an agent acting as the user) can write may loosen a run: no endpoint, CA bundle, proxy,
 * plugin, alias, pager, history file, custom model, credential source or code-loading variable reaches the CLI.
 */
import type {AwsProfiles} from './aws-profiles.js'

import {AvError} from '../core/errors.js'

/** Root-owned directories only: `#!/usr/bin/env node` and anything the CLI runs resolve here, never in ~/bin. */
export const SEALED_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

/**
 * Terminal and locale settings that shape output only; and where the user's session bus is, which the credential
 * helper (a child of the CLI) needs to reach the Secret Service on Linux — the CLI itself never reads them, and
 * the launcher already used the same values to reach the keychain.
 */
const PASSED_THROUGH = new Set([
  // Timings of av's own phases on stderr (trace.ts): the helper or root's release inside the run reads it.
  'AV_TRACE',
  'COLUMNS',
  'DBUS_SESSION_BUS_ADDRESS',
  'LANG',
  'LINES',
  'NO_COLOR',
  'TERM',
  'TZ',
  'XDG_RUNTIME_DIR',
])

/**
 * AWS variables that only choose a region or an output format. Values must look like one (a region name or a
 * word); anything else is dropped. Credentials, endpoints, CA bundles, data paths and profiles never pass.
 */
const AWS_PASSED_THROUGH: Record<string, RegExp> = {
  AWS_DEFAULT_OUTPUT: /^(json|text|table|yaml|yaml-stream)$/,
  AWS_DEFAULT_REGION: /^[a-z\d](?:[a-z\d-]{0,61}[a-z\d])?$/,
  AWS_REGION: /^[a-z\d](?:[a-z\d-]{0,61}[a-z\d])?$/,
}

/** Locale and terminal values never need control characters; refuse any that carry them. */
const PRINTABLE = /^[\u0020-\u007E]{0,256}$/

export interface ChildEnvInput {
  /** The private per-run HOME (0700, removed after the run). */
  home: string
  /** The generated AWS config file inside that HOME. */
  configFile: string
  /** The profile bound for this run: the CLI uses it even without --profile. */
  profile: string
  /** The per-run token for the credential helper (keychain mode; custody runs carry none). */
  token?: string
}

/** The child's whole environment: the allowlist from the parent, then av's fixed settings. Nothing else. */
export function buildChildEnv(parentEnv: NodeJS.ProcessEnv, input: ChildEnvInput): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(parentEnv)) {
    if (value === undefined || !PRINTABLE.test(value)) continue
    const passes =
      PASSED_THROUGH.has(name) || /^LC_[A-Z]+$/.test(name) || (AWS_PASSED_THROUGH[name]?.test(value) ?? false)
    if (passes) env[name] = value
  }

  return {
    ...env,
    PATH: SEALED_PATH,
    HOME: input.home,
    AWS_CONFIG_FILE: input.configFile,
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_PROFILE: input.profile,
    AWS_PAGER: '',
    AWS_CLI_AUTO_PROMPT: 'off',
    AWS_EC2_METADATA_DISABLED: 'true',
    // `aws help` pipes its page through `less -R` (PAGER and MANPAGER never pass). less's secure mode turns off
    // what would start a program or open a file inside the credentialed run: `!` shell, `|` pipe, `v` editor,
    // `:e` examine, log files, lesskey and tag files. LESSSECURE_ALLOW, which re-enables them, never passes either.
    LESSSECURE: '1',
    ...(input.token === undefined ? {} : {AV_RUN_TOKEN: input.token}),
  }
}

/**
 * Profile settings copied into the generated config, each with the shape its value must have. Chosen because
 * they change neither where requests go (beyond genuine AWS endpoints) nor which code runs:
 * - region, output, cli_timestamp_format, cli_binary_format: how the CLI talks and prints;
 * - retry_mode, max_attempts, defaults_mode: retries against the same endpoint;
 * - use_fips_endpoint, use_dualstack_endpoint, sts_regional_endpoints, s3 addressing/acceleration/transfer
 *   settings: variants of AWS's own endpoints, chosen by botocore, not by a URL the user writes;
 * - parameter_validation, request/response checksum settings, tcp_keepalive.
 * Left out on purpose: endpoint_url, services, ca_bundle, credential_process, credential_source, role_arn,
 * source_profile, web_identity_token_file, sso_*, mfa_serial, duration_seconds (role/SSO profiles are not served
 * inside av runs: the role cache would hold session keys in plaintext), cli_pager, cli_history,
 * cli_auto_prompt, cli_follow_urlparam (fetches URLs named in parameters, v1), cli_legacy_plugin_path,
 * metadata_service_*, and every key av does not know (a later CLI may give it power).
 */
const BOOL = /^(true|false)$/i
const REGION = /^[a-z\d](?:[a-z\d-]{0,61}[a-z\d])?$/
const SIZE = /^\d{1,12}(?:[KMG]i?B)?$/
const COUNT = /^\d{1,4}$/

const PROFILE_SETTINGS = new Map<string, RegExp>([
  ['cli_binary_format', /^(base64|raw-in-base64-out)$/],
  ['cli_timestamp_format', /^(iso8601|wire|none)$/],
  ['defaults_mode', /^(auto|legacy|standard|in-region|cross-region|mobile)$/],
  ['max_attempts', COUNT],
  ['output', /^(json|text|table|yaml|yaml-stream)$/],
  ['parameter_validation', BOOL],
  ['region', REGION],
  ['request_checksum_calculation', /^(when_supported|when_required)$/],
  ['response_checksum_validation', /^(when_supported|when_required)$/],
  ['retry_mode', /^(legacy|standard|adaptive)$/],
  ['sts_regional_endpoints', /^(legacy|regional)$/],
  ['tcp_keepalive', BOOL],
  ['use_dualstack_endpoint', BOOL],
  ['use_fips_endpoint', BOOL],
])

/** The `s3 =` nested settings that stay (written back nested, as the CLI reads them). */
const S3_SETTINGS = new Map<string, RegExp>([
  ['addressing_style', /^(auto|path|virtual)$/],
  ['max_bandwidth', /^\d{1,12}(?:[KMG]i?B)?\/s$/],
  ['max_concurrent_requests', COUNT],
  ['max_queue_size', /^\d{1,6}$/],
  ['multipart_chunksize', SIZE],
  ['multipart_threshold', SIZE],
  ['payload_signing_enabled', BOOL],
  ['use_accelerate_endpoint', BOOL],
  ['use_dualstack_endpoint', BOOL],
])

/** Profile names av can write into a section header and a credential_process line without quoting. */
const PROFILE_NAME = /^[\w@+.%:/-]{1,128}$/

export function checkProfileName(profile: string): void {
  if (!PROFILE_NAME.test(profile)) {
    throw new AvError('usage', `the profile name ${JSON.stringify(profile.slice(0, 80))} is not one av can run`, {
      suggestion: 'Use a profile name made of letters, digits and _ - . @ + % : / only.',
    })
  }
}

export interface SealedConfigInput {
  profile: string
  /** Absolute path of the running av's bin/run.js (the helper entry). */
  avEntry: string
  /**
   * The credential_process command words instead of `<avEntry> credential-helper aws --profile P` (custody: root's
   * release verb through `sudo -n`, named for this run).
   */
  credentialProcess?: string[]
}

/** Quote one word the way both botocore (shlex.split) and `sh -c` (Go/JS SDKs) read it back. */
export function quoteWord(word: string): string {
  if (/^[\w@%+=:,./-]+$/.test(word)) return word
  return `'${word.replaceAll("'", `'"'"'`)}'`
}

/** The generated config: one profile section, allowlisted settings only, and av's credential_process. */
export function buildSealedConfig(parsed: AwsProfiles, input: SealedConfigInput): string {
  checkProfileName(input.profile)
  const source = parsed[input.profile] ?? {}
  const lines = [input.profile === 'default' ? '[default]' : `[profile ${input.profile}]`]

  for (const [key, shape] of PROFILE_SETTINGS) {
    const value = source[key]
    if (value !== undefined && shape.test(value)) lines.push(`${key} = ${value}`)
  }

  const s3 = [...S3_SETTINGS]
    .map(([key, shape]) => [key, source[`s3.${key}`], shape] as const)
    .filter(([, value, shape]) => value !== undefined && shape.test(value))
  if (s3.length > 0) lines.push('s3 =', ...s3.map(([key, value]) => `    ${key} = ${value}`))

  const words = input.credentialProcess ?? [input.avEntry, 'credential-helper', 'aws', '--profile', input.profile]
  const command = words.map((word) => quoteWord(word)).join(' ')
  lines.push(`credential_process = ${command}`)
  return lines.join('\n') + '\n'
}

/** sha256 hex of the generated config bytes: the token carries it so the helper can check what the CLI read. */
export function hashConfig(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex')
}

/** What in the user's own AWS setup is ignored inside av runs: one line for stderr, or null. */
export function ignoredSettingsNotice(userConfigText: null | string, aliasFileExists: boolean): null | string {
  const ignored: string[] = []
  if (userConfigText !== null) {
    if (/^\s*\[\s*plugins\s*\]/m.test(userConfigText)) ignored.push('[plugins]')
    if (/^\s*cli_history\s*=\s*enabled\s*(?:[#;].*)?$/im.test(userConfigText)) ignored.push('cli_history = enabled')
  }

  if (aliasFileExists) ignored.push('aliases in ~/.aws/cli/alias')
  if (ignored.length === 0) return null
  return `av: ${ignored.join(', ')} from your AWS config ignored inside av runs (they could run code or store responses)`
}
