/**
 * The profiles of the user's AWS config file, read exactly as the AWS SDK's own parser
 * (@smithy/shared-ini-file-loader) reads them — that parser is the oracle in test/unit/aws-profiles.test.ts —
 * without loading it: the credential helper reads the config on every call, and the SDK's loader costs tens of
 * milliseconds to import. Only `[default]` and `[profile x]` sections are returned (by profile name); nested
 * blocks (`s3 =`) become `s3.key` entries, as in the SDK.
 */
import {readFileSync} from 'node:fs'

export type ProfileSettings = Record<string, string | undefined>
export type AwsProfiles = Record<string, ProfileSettings>

const PREFIXED = /^([\w-]+)\s(["'])?([\w-@+.%:/]+)\2$/
const SECTION_TYPES = new Set(['profile', 'services', 'sso-session'])
const INLINE_COMMENT = /(^|\s)[;#]/

/** Section name → settings, with the SDK's naming (`default`, `profile.dev`, `sso-session.corp`). */
function parseIni(text: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>()
  let section: string | undefined
  let nested: string | undefined
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.split(INLINE_COMMENT)[0]!.trim()
    if (trimmed.startsWith('[') && trimmed.endsWith(']')) {
      section = undefined
      nested = undefined
      const name = trimmed.slice(1, -1)
      const match = PREFIXED.exec(name)
      if (match) {
        if (SECTION_TYPES.has(match[1]!)) section = `${match[1]}.${match[3]}`
      } else section = name
      continue
    }

    if (section === undefined) continue
    const equals = trimmed.indexOf('=')
    if (equals <= 0) continue
    const key = trimmed.slice(0, equals).trim()
    const value = trimmed.slice(equals + 1).trim()
    if (value === '') {
      nested = key
      continue
    }

    if (nested !== undefined && line.trimStart() === line) nested = undefined
    let settings = sections.get(section)
    if (!settings) sections.set(section, (settings = new Map()))
    settings.set(nested === undefined ? key : `${nested}.${key}`, value)
  }

  return sections
}

/** The settings of `[sso-session name]`, or null when the file has no such section. */
export function ssoSessionSettings(text: string, name: string): null | ProfileSettings {
  const settings = parseIni(text).get(`sso-session.${name}`)
  return settings ? Object.assign(Object.create(null) as ProfileSettings, Object.fromEntries(settings)) : null
}

function settingsOf(settings: Map<string, string>): ProfileSettings {
  return Object.assign(Object.create(null) as ProfileSettings, Object.fromEntries(settings))
}

/** `[default]` and `[profile x]` sections by profile name (null-prototype objects: names are user data). */
function profilesIn(sections: Map<string, Map<string, string>>): AwsProfiles {
  const profiles: AwsProfiles = Object.create(null)
  const defaults = sections.get('default')
  if (defaults) profiles.default = settingsOf(defaults)
  for (const [name, settings] of sections) {
    if (name.startsWith('profile.')) profiles[name.slice('profile.'.length)] = settingsOf(settings)
  }

  return profiles
}

/** `[sso-session name]` sections by name (null-prototype: names are user data). */
function ssoSessionsIn(sections: Map<string, Map<string, string>>): AwsProfiles {
  const sessions: AwsProfiles = Object.create(null)
  for (const [name, settings] of sections) {
    if (name.startsWith('sso-session.')) sessions[name.slice('sso-session.'.length)] = settingsOf(settings)
  }

  return sessions
}

/** `[default]` and `[profile x]` settings by profile name. */
export function parseAwsProfiles(text: string): AwsProfiles {
  return profilesIn(parseIni(text))
}

export interface AwsConfig {
  profiles: AwsProfiles
  /** The `[sso-session x]` sections IAM Identity Center profiles name. */
  ssoSessions: AwsProfiles
}

/** The config text's profiles and sso-sessions, from one parse. */
export function parseAwsConfig(text: string): AwsConfig {
  const sections = parseIni(text.replace(/^\uFEFF/, ''))
  return {profiles: profilesIn(sections), ssoSessions: ssoSessionsIn(sections)}
}

/** The config file's profiles and sso-sessions, read and parsed once; a missing or unreadable file has none. */
export function readAwsConfig(
  file: string,
  readFile: (file: string) => string = (f) => readFileSync(f, 'utf8'),
): AwsConfig {
  let text: string
  try {
    text = readFile(file)
  } catch {
    text = ''
  }

  return parseAwsConfig(text)
}

/** The profiles in `file`; a missing or unreadable file has none. */
export function readAwsProfiles(
  file: string,
  readFile: (file: string) => string = (f) => readFileSync(f, 'utf8'),
): AwsProfiles {
  return readAwsConfig(file, readFile).profiles
}
