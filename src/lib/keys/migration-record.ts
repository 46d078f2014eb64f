/**
 * What av keeps beside a profile's keys in the secret store so that `av restore` can put every byte back.
 *
 * Design: the record travels inside the same keychain item as the keys (one write, so keys and record are never
 * apart), it is written before either file changes, and it holds no secret: for each key line removed from the
 * credentials file, its offset in the section and the bytes around the value; for the config file, the exact
 * `credential_process` line av wrote and whether av created the section, the blank line before it, or the file.
 * Re-runs after a SIGKILL recognise av's line by its exact text and take the record from the item, so a resumed
 * migrate writes the same record the first run did. `decodeKeyPair` ignores the extra field, so the helper
 * reads these items unchanged.
 */
import {parse as parseShell, quote as quoteShell} from 'shell-quote'

import {type Eol, type IniDocument, type IniEntry, type IniSection} from '../aws/ini-document.js'
import {AvError} from '../core/errors.js'
import {type AwsKeyPair, decodeKeyPair, encodeKeyPair} from '../store/credentials.js'

export const CREDENTIAL_KEYS = ['aws_access_key_id', 'aws_secret_access_key', 'aws_session_token'] as const
export type CredentialKey = (typeof CREDENTIAL_KEYS)[number]

export const RECORD_VERSION = 1

export interface RemovedLine {
  /** Line offset from the section header, in the file before migration. */
  offset: number
  key: CredentialKey
  /** The line's bytes before and after the value, and its ending. */
  before: string
  after: string
  eol: Eol
}

export interface RestoreRecord {
  v: typeof RECORD_VERSION
  credentials: {
    lines: RemovedLine[]
    /** How many lines the section had once the key lines were gone (a different count means it was edited). */
    remaining: number
  }
  config: {
    /** The exact `credential_process` line av wrote. */
    line: string
    /** The line it replaced (only with --force), put back by restore. */
    replaced?: string
    createdSection: boolean
    addedBlank: boolean
    createdFile: boolean
  }
}

export interface StoredProfile {
  pair: AwsKeyPair
  /** null for an item written without one (restore then appends the keys at the end of the section). */
  record: null | RestoreRecord
}

/** The item: the key, its restore record and, when known, when av stored it (`storedAt`, ISO: the key's age). */
export function encodeStoredProfile(pair: AwsKeyPair, record: RestoreRecord, storedAt?: string): string {
  return JSON.stringify({
    ...(JSON.parse(encodeKeyPair(pair)) as object),
    restore: record,
    ...(storedAt ? {storedAt} : {}),
  })
}

export function decodeStoredProfile(account: string, raw: string): StoredProfile {
  const pair = decodeKeyPair(account, raw)
  const {restore} = JSON.parse(raw) as {restore?: unknown}
  if (restore === undefined) return {pair, record: null}
  const record = restore as Partial<RestoreRecord>
  if (record?.v !== RECORD_VERSION || !record.credentials || !record.config) {
    throw new AvError('store-corrupt', `the keychain item ${account} has a restore record this av cannot read`, {
      suggestion: 'Upgrade av to the version that wrote this item.',
    })
  }

  return {pair, record: record as RestoreRecord}
}

/** The `credential_process` line av writes for a profile. */
export function helperLine(avPath: string, profile: string): string {
  return `credential_process = ${quoteShell([avPath, 'credential-helper', 'aws', '--profile', profile])}`
}

/** Whether a credential_process value runs av's helper for this profile (any av install path). */
export function isAvHelper(value: string, profile: string): boolean {
  const words = parseShell(value)
  return (
    words.length === 5 &&
    words.slice(1, 4).join(' ') === 'credential-helper aws --profile' &&
    words[4] === profile &&
    typeof words[0] === 'string' &&
    words[0].startsWith('/')
  )
}

/** The profile's credential_process entry in config when it is av's, else undefined. */
export function avEntry(config: IniDocument, section: IniSection | undefined, profile: string): IniEntry | undefined {
  if (!section) return undefined
  const entry = config.get(section, 'credential_process')
  return entry && isAvHelper(entry.value, profile) ? entry : undefined
}

/** Split a `key = value` line around its value (the value must be the SDK's reading, no inline comment). */
export function splitKeyLine(text: string, value: string): {after: string; before: string} {
  const equals = text.indexOf('=')
  const start = text.indexOf(value, equals + 1)
  return {before: text.slice(0, start), after: text.slice(start + value.length)}
}
