/**
 * `av doctor`: what is still exposed, and what av depends on. Each check is a small function over injected
 * facts (files under the user's HOME, the environment, the secret store, trust facts, /proc values) and returns
 * {id, status, message, fix}. `fail` means something is exposed or av's protection is off; `warn` means a
 * weaker spot worth fixing; the command exits 1 when any check fails.
 *
 * Never a secret in a message: checks name files, profiles and variables, never values.
 */
import {loadSharedConfigFiles} from '@smithy/shared-ini-file-loader'
import * as nodeFs from 'node:fs'
import path from 'node:path'
import {parse as parseShell} from 'shell-quote'

import type {Policy} from '../core/policy.js'
import type {SecretStore} from '../store/secret-store.js'

import {verifyAuditLog, type VerifyResult} from '../audit/audit-verify.js'
import {AvError} from '../core/errors.js'
import {KEYCHAIN_LINE} from '../core/mode.js'
import {awsConfigFile, awsCredentialsFile, type PathEnv} from '../core/paths.js'
import {checkRootOwned, realTrustFs, type TrustFs} from '../core/trust.js'
import {callCustody, CustodyClientStore, custodyEntryOf, custodyLaunchOf} from '../custody/custody-client.js'
import {builtinRuntimes, DEFAULT_AWS_CLI} from '../run/caller-check.js'
import {profileOfAccount} from '../store/credentials.js'

export type CheckStatus = 'fail' | 'ok' | 'warn'

export interface Check {
  id: string
  status: CheckStatus
  message: string
  /** What to do about it (absent when ok). */
  fix?: string
}

export interface DoctorReport {
  checks: Check[]
  /** True when any check failed (something is exposed or av's protection is off). */
  exposed: boolean
  counts: Record<CheckStatus, number>
}

/** Facts about the machine that tests inject: /proc values and the first `aws` on PATH. */
export interface MachineFacts {
  /** Contents of /proc/sys/kernel/yama/ptrace_scope, null when Yama is absent. */
  ptraceScope(): null | string
  /** Contents of /proc/self/limits, null when unreadable. */
  limits(): null | string
  /** Contents of /proc/sys/kernel/core_pattern, null when unreadable. */
  corePattern(): null | string
  /** Absolute path of the first `aws` on PATH, null when none. */
  awsOnPath(): null | string
}

export interface DoctorDeps extends PathEnv {
  /** The user's OS keychain (custody mode too: the audit key lives there, and durable keys must not). */
  store: SecretStore
  /** The root-owned policy's `custody` (custody mode, `sudo av install`); absent in keychain mode. */
  custody?: Policy['custody']
  /** How `sudo -n <entry> <verb>` runs (tests pass a fake); callCustody by default. */
  callCustody?: typeof callCustody
  /** The running av's bin/run.js (what credential_process lines and the shim should name). */
  avBin: string
  /** The audit log's directory (stateDir). */
  auditDir: string
  /** The AWS CLI runtime argv prefix av runs (policy `awsCli`, else the Debian default). */
  runtime: string[]
  machine: MachineFacts
  trustFs?: TrustFs
  verify?: (dir: string, store: SecretStore) => Promise<VerifyResult>
}

/**
 * The runtime to check: the policy's `awsCli`, else the first built-in candidate the launcher would find
 * (Debian's package, then the official installer), else the Debian default (reported missing).
 */
export function runtimeToCheck(awsCli: string[] | undefined, platform: NodeJS.Platform): string[] {
  if (awsCli) return awsCli
  return builtinRuntimes(platform).find((argv) => nodeFs.existsSync(argv[0]!)) ?? DEFAULT_AWS_CLI
}

function readText(file: string): null | string {
  try {
    return nodeFs.readFileSync(file, 'utf8')
  } catch {
    return null
  }
}

/** The real machine: /proc on Linux, PATH search for `aws`. */
export function systemMachineFacts(env: NodeJS.ProcessEnv): MachineFacts {
  return {
    awsOnPath: () => findOnPath('aws', env.PATH ?? ''),
    corePattern: () => readText('/proc/sys/kernel/core_pattern'),
    limits: () => readText('/proc/self/limits'),
    ptraceScope: () => readText('/proc/sys/kernel/yama/ptrace_scope'),
  }
}

/** First executable file called `name` in a PATH string (absolute entries only: a relative one is cwd-dependent). */
export function findOnPath(name: string, pathVar: string): null | string {
  for (const dir of pathVar.split(':')) {
    if (!dir.startsWith('/')) continue
    const candidate = path.join(dir, name)
    try {
      if (nodeFs.statSync(candidate).isFile()) {
        nodeFs.accessSync(candidate, nodeFs.constants.X_OK)
        return candidate
      }
    } catch {}
  }

  return null
}

const ok = (id: string, message: string): Check => ({id, status: 'ok', message})
const warn = (id: string, message: string, fix: string): Check => ({id, status: 'warn', message, fix})
const fail = (id: string, message: string, fix: string): Check => ({id, status: 'fail', message, fix})

/** `~/x` for display when under HOME. */
function tilde(file: string, home: string): string {
  return file === home || file.startsWith(home + '/') ? '~' + file.slice(home.length) : file
}

function realpathOr(file: string): string {
  try {
    return nodeFs.realpathSync(file)
  } catch {
    return file
  }
}

type IniData = Record<string, Record<string, string | undefined>>

async function loadAwsFiles(deps: DoctorDeps): Promise<{config: IniData; credentials: IniData}> {
  const files = await loadSharedConfigFiles({
    configFilepath: awsConfigFile(deps),
    filepath: awsCredentialsFile(deps),
    ignoreCache: true,
  })
  return {config: files.configFile as IniData, credentials: files.credentialsFile as IniData}
}

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

function argvOf(command: string): string[] {
  return parseShell(command).filter((t): t is string => typeof t === 'string')
}

/** One check per profile: does it use this av's helper, and is that helper root-owned? */
export function checkProfiles(deps: DoctorDeps, config: IniData): Check[] {
  const trustFs = deps.trustFs ?? realTrustFs
  const expected = realpathOr(deps.avBin)
  const profiles = Object.entries(config).filter(([name]) => !name.includes('.'))
  if (profiles.length === 0) {
    return [ok('profiles', `no profiles in ${tilde(awsConfigFile(deps), deps.home)}`)]
  }

  const repoint = (name: string) => `Run \`av migrate --profile ${name}\` to point it at this av (${expected}).`
  return profiles.map(([name, settings]): Check => {
    const id = `profile:${name}`
    const command = settings.credential_process
    if (!command) {
      if (settings.role_arn && settings.source_profile) {
        return ok(id, `assumes a role from profile ${settings.source_profile} (checked on its own)`)
      }

      return warn(id, `profile ${name} does not get its credentials from av`, repoint(name))
    }

    const argv = argvOf(command)
    const helperAt = argv.indexOf('credential-helper')
    if (helperAt === -1 || argv[helperAt + 1] !== 'aws') {
      return warn(id, `profile ${name} runs another credential_process (${argv[0] ?? '?'}), not av`, repoint(name))
    }

    const bin = argv[0] ?? ''
    const trust = checkRootOwned(bin, trustFs)
    const same = realpathOr(bin) === expected
    const named = argv[argv.indexOf('--profile') + 1]
    if (!trust.ok && !same) {
      return fail(
        id,
        `profile ${name} runs a user-writable av (${bin}: ${trust.path} ${trust.reason}): anything running as you can replace it`,
        `Install av root-owned (\`sudo av install\`), then ${repoint(name).replace(/^Run/, 'run')}`,
      )
    }

    if (!trust.ok) {
      return warn(
        id,
        `profile ${name} uses this av, but it is user-writable (${trust.path} ${trust.reason}; a development checkout?)`,
        'Run `sudo av install` for a root-owned copy, then `av migrate` to point profiles at it.',
      )
    }

    if (!same)
      return warn(id, `profile ${name} uses another av install (${bin}), not this one (${expected})`, repoint(name))
    if (argv.includes('--profile') && named !== name) {
      return warn(id, `profile ${name} asks av for profile ${named ?? '?'}`, repoint(name))
    }

    return ok(id, `profile ${name} gets its credentials from av`)
  })
}

/** av's own files root-owned: the entry point and the helper/launcher fast paths it loads. */
export function checkAvInstall(deps: DoctorDeps): Check {
  const trustFs = deps.trustFs ?? realTrustFs
  const root = path.dirname(path.dirname(deps.avBin))
  const files = [
    deps.avBin,
    path.join(root, 'dist', 'lib', 'main', 'helper-main.js'),
    path.join(root, 'dist', 'lib', 'main', 'run-main.js'),
  ]
  for (const file of files) {
    const trust = checkRootOwned(file, trustFs)
    if (trust.ok) continue
    if (trust.reason === 'does not exist' && file !== deps.avBin) continue
    return warn(
      'av-install',
      `this av (${deps.avBin}) is not root-owned: ${trust.path} ${trust.reason}; the helper refuses to hand out credentials from a user-writable av`,
      'Run `sudo av install` (a root-owned copy under /opt/av) and use that av.',
    )
  }

  return ok('av-install', `this av (${deps.avBin}) is root-owned and not writable by others`)
}

/** The AWS CLI runtime av runs: its interpreter and entry script root-owned. */
export function checkRuntime(deps: DoctorDeps): Check {
  const trustFs = deps.trustFs ?? realTrustFs
  const files = deps.runtime.filter((arg, i) => i === 0 || arg.startsWith('/'))
  const shown = deps.runtime.join(' ')
  for (const file of files) {
    const trust = checkRootOwned(file, trustFs)
    if (trust.ok) continue
    if (trust.reason === 'does not exist') {
      return fail(
        'aws-runtime',
        `the AWS CLI runtime av runs (${shown}) is missing: ${file} does not exist`,
        'Install the AWS CLI v2 root-owned (Debian/Ubuntu: `sudo apt-get install awscli`; or the official installer), or name it in /etc/av/policy.json ("awsCli").',
      )
    }

    return fail(
      'aws-runtime',
      `the AWS CLI runtime av runs (${shown}) is not root-owned: ${trust.path} ${trust.reason}; code there would run with your credentials`,
      'Use a root-owned AWS CLI (the Debian package or the official installer under /usr/local/aws-cli) and name it in /etc/av/policy.json ("awsCli").',
    )
  }

  return ok('aws-runtime', `the AWS CLI runtime (${shown}) is root-owned`)
}

/** The `aws` first on PATH should be av's launcher shim (a small script that execs this av's `run -- aws`). */
export function checkAwsOnPath(deps: DoctorDeps): Check {
  const found = deps.machine.awsOnPath()
  const fix = 'Run `sudo av install` (it installs the `aws` launcher) and put its directory first on PATH.'
  if (!found) return warn('aws-on-path', 'no `aws` on PATH: agents must call `av run -- aws …`', fix)
  const text = readText(found)
  const isLauncher = text !== null && text.length < 65_536 && /\bexec\b/.test(text) && /\brun\s+--\s+aws\b/.test(text)
  if (!isLauncher) {
    return warn(
      'aws-on-path',
      `the \`aws\` first on PATH (${found}) is not av's launcher: \`aws\` runs outside av (no gate, no audit; with keys left in files, it reads them)`,
      fix,
    )
  }

  if (!text.includes(deps.avBin) && !text.includes(realpathOr(deps.avBin))) {
    return warn(
      'aws-on-path',
      `the \`aws\` first on PATH (${found}) is the launcher of another av, not of ${deps.avBin}`,
      fix,
    )
  }

  const trust = checkRootOwned(found, deps.trustFs ?? realTrustFs)
  if (!trust.ok) {
    return warn('aws-on-path', `av's launcher ${found} is user-writable (${trust.path} ${trust.reason})`, fix)
  }

  return ok('aws-on-path', `\`aws\` on PATH is av's launcher (${found})`)
}

/** `[plugins]`, cli_history, aliases, custom models: harmless inside av runs (private HOME), exposed outside them. */
export function checkCliExtras(deps: DoctorDeps, config: IniData): Check[] {
  const {home} = deps
  const aws = path.join(home, '.aws')
  const outside = 'av runs never load it (they use a private HOME), but a plain `aws` run does'
  const checks: Check[] = []

  const configText = readText(awsConfigFile(deps)) ?? ''
  checks.push(
    /^\s*\[\s*plugins\s*]/m.test(configText)
      ? warn(
          'plugins',
          `${tilde(awsConfigFile(deps), home)} has a [plugins] section: it loads Python code into the AWS CLI; ${outside}`,
          'Remove the [plugins] section unless you rely on it outside av.',
        )
      : ok('plugins', 'no [plugins] section'),
  )

  const historyOn = Object.entries(config)
    .filter(([name, s]) => !name.includes('.') && s.cli_history?.trim().toLowerCase() === 'enabled')
    .map(([name]) => name)
  const historyDir = path.join(aws, 'cli', 'history')
  const historyKept = nodeFs.existsSync(historyDir)
  if (historyOn.length > 0 || historyKept) {
    const parts = []
    if (historyOn.length > 0) parts.push(`cli_history = enabled for ${historyOn.join(', ')}`)
    if (historyKept)
      parts.push(`${tilde(historyDir, home)} exists (request and response bodies, which can hold secrets)`)
    checks.push(
      warn(
        'cli-history',
        `${parts.join('; ')}; ${outside}`,
        `Remove cli_history from ${tilde(awsConfigFile(deps), home)} and delete ${tilde(historyDir, home)}.`,
      ),
    )
  } else checks.push(ok('cli-history', 'AWS CLI history is off'))

  const aliasFile = path.join(aws, 'cli', 'alias')
  const aliases = (readText(aliasFile) ?? '').split('\n').filter((l) => /^\s*[^\s#;[]/.test(l))
  checks.push(
    aliases.length > 0
      ? warn(
          'aliases',
          `${tilde(aliasFile, home)} defines ${aliases.length} alias line(s): aliases can shadow commands and \`!\` aliases run a shell; ${outside}`,
          `Review ${tilde(aliasFile, home)} and delete what you do not use.`,
        )
      : ok('aliases', 'no AWS CLI aliases'),
  )

  const modelsDir = path.join(aws, 'models')
  let models: string[] = []
  try {
    models = nodeFs.readdirSync(modelsDir)
  } catch {}

  const dataPath = deps.env.AWS_DATA_PATH
  checks.push(
    models.length > 0 || dataPath
      ? warn(
          'models',
          `custom service models (${[models.length > 0 ? tilde(modelsDir, home) : '', dataPath ? 'AWS_DATA_PATH' : ''].filter(Boolean).join(', ')}) can give a sensitive API a harmless-looking name; ${outside}`,
          `Delete ${tilde(modelsDir, home)} (and unset AWS_DATA_PATH) unless you added those models on purpose.`,
        )
      : ok('models', 'no custom AWS CLI service models'),
  )
  return checks
}

/** The secret store reachable and unlocked, and the token HMAC key present. */
export async function checkStore(store: SecretStore): Promise<{checks: Check[]; usable: boolean}> {
  try {
    await store.probe()
  } catch (error) {
    const suggestion = error instanceof AvError ? error.suggestion : undefined
    return {
      checks: [
        fail(
          'secret-store',
          `the secret store cannot be used: ${(error as Error).message}`,
          suggestion ?? 'Unlock your keychain.',
        ),
        warn('token-key', 'not checked: the secret store is unavailable', 'Fix the secret store first.'),
      ],
      usable: false,
    }
  }

  const key = await store.get('token-key')
  return {
    checks: [
      ok('secret-store', 'the secret store is reachable and unlocked'),
      key === null
        ? warn(
            'token-key',
            'no token key in the secret store yet (it is created on the first `av run`)',
            'Run any `av run -- aws …` once.',
          )
        : ok('token-key', 'the token key is in the secret store'),
    ],
    usable: true,
  }
}

/** Which mode av runs in: custody when the root-owned policy names a custody entry point, else keychain. */
export function checkMode(deps: DoctorDeps): Check {
  if (!deps.custody) return ok('mode', KEYCHAIN_LINE.replace(/^mode: /, ''))

  return ok(
    'mode',
    `custody mode: durable keys live in root custody (${deps.custody.dir}), reached through \`sudo -n ${deps.custody.entry}\``,
  )
}

const REINSTALL_CUSTODY = 'Run `sudo av install` again.'

/** Custody mode: the entry point passes the trust rule and answers `view`; the token key is in custody. */
async function checkCustodyEntry(deps: DoctorDeps, custody: NonNullable<DoctorDeps['custody']>): Promise<Check[]> {
  const {entry} = custody
  try {
    custodyEntryOf({custody}, deps.trustFs ?? realTrustFs)
  } catch (error) {
    if (!(error instanceof AvError)) throw error
    return [
      fail('custody-entry', error.message, error.suggestion ?? REINSTALL_CUSTODY),
      warn('custody-view', 'not checked: the custody entry point is not trusted', 'Fix custody-entry first.'),
    ]
  }

  const trusted = ok('custody-entry', `the custody entry point ${entry} is root-owned and not writable by others`)
  let accounts: string[]
  try {
    accounts = await new CustodyClientStore(entry, deps.callCustody ?? callCustody).list()
  } catch (error) {
    if (!(error instanceof AvError)) throw error
    return [
      trusted,
      fail(
        'custody-view',
        `root custody does not answer \`sudo -n ${entry} view\`, so av cannot hand out credentials: ${error.message}`,
        error.suggestion ?? REINSTALL_CUSTODY,
      ),
    ]
  }

  const profiles = accounts.map((a) => profileOfAccount(a)).filter((p) => p !== null)
  return [
    trusted,
    ok(
      'custody-view',
      `root custody answers \`sudo -n ${entry} view\`: durable keys for ${profiles.length > 0 ? profiles.join(', ') : 'no profile yet'}`,
    ),
    checkRootLauncher(custody, deps.trustFs ?? realTrustFs),
  ]
}

/** Custody mode: root runs the launcher, and the AWS CLI it starts is non-dumpable (an execute-only interpreter). */
function checkRootLauncher(custody: NonNullable<DoctorDeps['custody']>, fs: TrustFs): Check {
  try {
    if (custodyLaunchOf({custody}, fs) === null) throw new AvError('internal', 'no custody')
  } catch (error) {
    if (!(error instanceof AvError)) throw error
    return fail('root-launcher', error.message, error.suggestion ?? REINSTALL_CUSTODY)
  }

  if (!custody.awsCli) {
    return warn(
      'root-launcher',
      'root runs the launcher, but the AWS CLI runs from a file you can read, so you (and an agent) can read its memory',
      'Use a Python-based AWS CLI (Debian/Ubuntu `apt-get install awscli`) and run `sudo av install` again.',
    )
  }

  return ok('root-launcher', `root runs the aws launcher (${custody.launch}); the AWS CLI runs non-dumpable`)
}

/**
 * Custody mode: a durable key (`aws:<profile>`) still in the user's own OS keychain is readable by every program
 * the user runs, custody or not. Lists the keychain by name; never reads a value.
 */
export async function checkKeychainLeftovers(store: SecretStore, usable: boolean): Promise<Check[]> {
  const fix = 'Fix the secret store first, then run `av doctor` again.'
  if (!usable) return [warn('keychain-leftovers', 'not checked: the OS keychain is unavailable', fix)]
  let profiles: string[]
  try {
    profiles = (await store.list()).map((a) => profileOfAccount(a)).filter((p) => p !== null)
  } catch (error) {
    if (!(error instanceof AvError)) throw error
    return [warn('keychain-leftovers', `not checked: the OS keychain could not be listed (${error.message})`, fix)]
  }

  if (profiles.length === 0) return [ok('keychain-leftovers', 'no durable AWS keys left in your OS keychain')]
  return profiles.map((profile) =>
    fail(
      `keychain-leftover:${profile}`,
      `the durable key of ${profile} is still in your OS keychain, which every program you run can read: custody does not protect it`,
      'Run `av migrate`: it moves the key into root custody.',
    ),
  )
}

const PTRACE_EXPLAINED =
  '0 = any process of yours may attach to any other; 1 = only to its own descendants (an agent can still attach ' +
  'to an aws run it starts); 2 = only with CAP_SYS_PTRACE (admin); 3 = no attaching at all, fixed until reboot'

export function checkPtrace(platform: NodeJS.Platform, machine: MachineFacts): Check {
  if (platform !== 'linux') return ok('ptrace-scope', `not applicable on ${platform}`)
  const raw = machine.ptraceScope()
  const fix =
    'Run `sudo sysctl -w kernel.yama.ptrace_scope=2` and persist it in /etc/sysctl.d/10-ptrace.conf (1 at the least).'
  if (raw === null) {
    return warn(
      'ptrace-scope',
      `the Yama LSM is absent: any process of yours may read another's memory (${PTRACE_EXPLAINED})`,
      fix,
    )
  }

  const scope = Number(raw.trim())
  if (!Number.isInteger(scope) || scope < 1) {
    return warn('ptrace-scope', `kernel.yama.ptrace_scope = ${raw.trim()} (${PTRACE_EXPLAINED})`, fix)
  }

  return ok('ptrace-scope', `kernel.yama.ptrace_scope = ${scope} (${PTRACE_EXPLAINED})`)
}

export function checkCoreDumps(platform: NodeJS.Platform, machine: MachineFacts): Check {
  if (platform !== 'linux') return ok('core-dumps', `not checked on ${platform}`)
  const line = (machine.limits() ?? '').split('\n').find((l) => l.startsWith('Max core file size'))
  const [soft, hard] = line ? line.slice('Max core file size'.length).trim().split(/\s+/) : []
  const pattern = (machine.corePattern() ?? '').trim()
  const where = pattern.startsWith('|')
    ? `piped to ${pattern.slice(1).split(' ')[0]}`
    : `written as ${pattern || 'core'}`
  if (soft === undefined)
    return warn('core-dumps', 'the core dump limit cannot be read', 'Run `ulimit -c 0` in your shell profile.')
  if (soft !== '0') {
    return warn(
      'core-dumps',
      `core dumps are enabled (limit ${soft}, ${where}): a crashing aws or helper process would write its memory, credentials included, to disk`,
      'Add `ulimit -c 0` to your shell profile (and `* hard core 0` to /etc/security/limits.conf).',
    )
  }

  return ok('core-dumps', `core dumps are off (soft limit 0${hard && hard !== '0' ? `, hard ${hard}` : ''})`)
}

export async function checkAuditChain(deps: DoctorDeps, storeUsable: boolean): Promise<Check> {
  if (!storeUsable)
    return warn('audit-chain', 'not checked: the secret store is unavailable', 'Fix the secret store first.')
  const result = await (deps.verify ?? verifyAuditLog)(deps.auditDir, deps.store)
  if (result.ok && result.unprotected) {
    const {count, first} = result.unprotected
    return warn(
      'audit-chain',
      `the audit trail is intact (${result.lines} lines), but the last ${count}, from ${first.file} line ${first.line}, were written without the audit key and are not tamper-evident`,
      'Make the keychain available to av (see secret-store); the next record vouches for them.',
    )
  }

  if (result.ok) return ok('audit-chain', `the audit trail is intact (${result.lines} lines)`)
  const {file, line, problem} = result.firstBroken!
  return fail(
    'audit-chain',
    `the audit trail is broken at ${file} line ${line}: ${problem}`,
    `Find out who changed ${deps.auditDir} (\`av log --verify\` shows the first broken line); move the files aside to start a new trail.`,
  )
}

export async function runDoctor(deps: DoctorDeps): Promise<DoctorReport> {
  const files = await loadAwsFiles(deps)
  const aws = path.join(deps.home, '.aws')
  const store = await checkStore(deps.store)
  // Custody mode: the token key is root's (custody-entry answers for it), and the keychain must hold no durable key.
  const custody = deps.custody
    ? [...(await checkCustodyEntry(deps, deps.custody)), ...(await checkKeychainLeftovers(deps.store, store.usable))]
    : []
  // In custody mode the keychain holds no key av uses: unavailable, it costs only the audit chain its HMAC.
  const storeChecks = deps.custody
    ? store.checks
        .filter((c) => c.id !== 'token-key')
        .map((c) =>
          c.status === 'fail'
            ? {
                ...c,
                message: `${c.message} (custody mode keeps no key there, but your audit trail is then not tamper-evident)`,
                status: 'warn' as const,
              }
            : c,
        )
    : store.checks
  const checks: Check[] = [
    checkPlaintextKeys(deps, files),
    checkEnvironment(deps.env),
    checkCache(
      'cli-cache',
      path.join(aws, 'cli', 'cache'),
      deps.home,
      'Delete them (`rm ~/.aws/cli/cache/*.json`): av runs keep role credentials in their private HOME.',
    ),
    checkCache(
      'sso-cache',
      path.join(aws, 'sso', 'cache'),
      deps.home,
      'Run `aws sso logout` (or delete ~/.aws/sso/cache/*.json).',
    ),
    checkCache(
      'login-cache',
      path.join(aws, 'login', 'cache'),
      deps.home,
      'Run `aws logout` (or delete ~/.aws/login/cache/*.json).',
    ),
    ...checkProfiles(deps, files.config),
    checkAvInstall(deps),
    checkRuntime(deps),
    checkAwsOnPath(deps),
    ...checkCliExtras(deps, files.config),
    checkMode(deps),
    ...storeChecks,
    ...custody,
    checkPtrace(deps.platform, deps.machine),
    checkCoreDumps(deps.platform, deps.machine),
    await checkAuditChain(deps, store.usable),
  ]
  const counts = {fail: 0, ok: 0, warn: 0}
  for (const check of checks) counts[check.status]++
  return {checks, counts, exposed: counts.fail > 0}
}

/** Human form: one line per check, its fix indented below. */
export function formatDoctorReport(report: DoctorReport): string {
  const mark: Record<CheckStatus, string> = {fail: 'FAIL', ok: 'ok  ', warn: 'warn'}
  const lines = report.checks.flatMap((c) => [
    `${mark[c.status]}  ${c.id}: ${c.message}`,
    ...(c.fix ? [`      fix: ${c.fix}`] : []),
  ])
  lines.push(
    '',
    `${report.counts.ok} ok, ${report.counts.warn} warning(s), ${report.counts.fail} failure(s)` +
      (report.exposed ? ': something is exposed (exit 1)' : ''),
  )
  return lines.join('\n')
}
