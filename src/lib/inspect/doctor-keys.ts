/**
 * `av doctor`, plaintext keys: AWS keys left in the credentials or config file, in the environment, or in the
 * AWS CLI's credential caches. Names files, profiles and variables, never values. And the age of the keys av holds.
 */
import * as nodeFs from 'node:fs'
import path from 'node:path'

import {AvError} from '../core/errors.js'
import {awsConfigFile, awsCredentialsFile} from '../core/paths.js'
import {describeAge, dueForRotation, type KeyAge, ROTATE_AFTER_DAYS} from '../keys/key-age.js'
import {type Check, type DoctorDeps, fail, type IniData, ok, readText, tilde, warn} from './doctor-check.js'

const KEY_SETTINGS = ['aws_access_key_id', 'aws_secret_access_key', 'aws_session_token']

/** Plaintext keys in the credentials file (any profile) or the config file. */
export function checkPlaintextKeys(deps: DoctorDeps, files: {config: IniData; credentials: IniData}): Check {
  const found: string[] = []
  for (const [label, file, data] of [
    ['credentials', awsCredentialsFile(deps), files.credentials],
    ['config', awsConfigFile(deps), files.config],
  ] as const) {
    const profiles = Object.entries(data)
      .filter(([name, settings]) => !name.includes('.') && KEY_SETTINGS.some((k) => settings[k]))
      .map(([name]) => name)
    if (profiles.length > 0) found.push(`${tilde(file, deps.home)} (${label}): ${profiles.join(', ')}`)
  }

  if (found.length === 0) return ok('plaintext-keys', 'no plaintext AWS keys in the credentials or config file')
  return fail(
    'plaintext-keys',
    `plaintext AWS keys are readable by anything running as you: ${found.join('; ')}`,
    `Run \`av migrate\` to move them into ${deps.custody ? 'root custody' : 'the OS keychain'} (it removes them from the file after checking the copy).`,
  )
}

const KEY_ENV = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_SECURITY_TOKEN']

export function checkEnvironment(env: NodeJS.ProcessEnv): Check {
  const set = KEY_ENV.filter((name) => env[name])
  if (set.length === 0) return ok('environment', 'no AWS keys in the environment')
  return fail(
    'environment',
    `AWS keys are in the environment (${set.join(', ')}): every process you start inherits them, and they win over av's helper`,
    `Unset them (unset ${set.join(' ')}) and remove them from your shell profile and .env files; keep the keys in av (\`av migrate\`).`,
  )
}

const CACHE_MARKERS = /"(?:SecretAccessKey|SessionToken|accessToken|refreshToken)"\s*:/

/** Files in a credential cache directory that hold credentials or tokens. */
export function checkCache(id: string, dir: string, home: string, fix: string): Check {
  let names: string[]
  try {
    names = nodeFs.readdirSync(dir)
  } catch {
    return ok(id, `no ${tilde(dir, home)}`)
  }

  const holding = names.filter((name) => {
    const text = readText(path.join(dir, name))
    return text !== null && CACHE_MARKERS.test(text)
  })
  if (holding.length === 0) return ok(id, `nothing holding credentials in ${tilde(dir, home)}`)
  return fail(
    id,
    `${holding.length} file(s) in ${tilde(dir, home)} hold credentials or tokens in plaintext: ${holding.slice(0, 5).join(', ')}${holding.length > 5 ? ', …' : ''}`,
    fix,
  )
}

/**
 * How old each durable key av holds is (IAM's CreateDate when IAM answers, else when av stored or created it), and
 * `av rotate` for those past ROTATE_AFTER_DAYS. A warning at worst: an old key is a risk, not an exposure.
 */
export async function checkKeyAge(keyAges: NonNullable<DoctorDeps['keyAges']>): Promise<Check> {
  let ages: KeyAge[]
  try {
    ages = await keyAges.read()
  } catch (error) {
    if (!(error instanceof AvError)) throw error
    return warn('key-age', `the keys' ages could not be read: ${error.message}`, error.suggestion ?? 'Run `av status`.')
  }

  if (ages.length === 0) return ok('key-age', 'av holds no durable IAM user key')
  const {now} = keyAges
  const list = ages
    .sort((a, b) => a.profile.localeCompare(b.profile))
    .map((age) => `${age.profile} ${describeAge(age, now)}`)
    .join('; ')
  const due = ages.filter((age) => dueForRotation(age, now)).map((age) => age.profile)
  if (due.length === 0) return ok('key-age', `every key is at most ${ROTATE_AFTER_DAYS} days old: ${list}`)
  return warn(
    'key-age',
    `${due.length === 1 ? 'a key is' : 'keys are'} over ${ROTATE_AFTER_DAYS} days old: ${list}`,
    `Run ${due.map((p) => `\`av rotate --profile ${p}\``).join(', ')}: av makes a new key that no file or agent has seen and deletes the old one.`,
  )
}
