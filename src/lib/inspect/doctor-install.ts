/**
 * `av doctor`, av wired in: each profile's credential_process runs this av, av and the AWS CLI runtime it runs are
 * root-owned, and the `aws` first on PATH is av's launcher.
 */
import * as nodeFs from 'node:fs'
import path from 'node:path'
import {parse as parseShell} from 'shell-quote'

import {awsConfigFile, TREE_ENTRIES} from '../core/paths.js'
import {checkRootOwned, realTrustFs} from '../core/trust.js'
import {builtinRuntimes, DEFAULT_AWS_CLI} from '../run/caller-check.js'
import {type Check, type DoctorDeps, fail, type IniData, ok, readText, realpathOr, tilde, warn} from './doctor-check.js'

/**
 * The runtime to check: the policy's `awsCli`, else the first built-in candidate the launcher would find
 * (Debian's package, then the official installer), else the Debian default (reported missing).
 */
export function runtimeToCheck(awsCli: string[] | undefined, platform: NodeJS.Platform): string[] {
  if (awsCli) return awsCli
  return builtinRuntimes(platform).find((argv) => nodeFs.existsSync(argv[0]!)) ?? DEFAULT_AWS_CLI
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
    path.join(root, TREE_ENTRIES.helper),
    path.join(root, TREE_ENTRIES.launcher),
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

  // Keychain mode's shim starts this av's launcher entry (main/run-entry.ts) rather than bin/run.js.
  const names = [deps.avBin, realpathOr(deps.avBin)].flatMap((bin) => [
    bin,
    path.join(path.dirname(path.dirname(bin)), TREE_ENTRIES.launcher),
  ])
  if (!names.some((name) => text.includes(name))) {
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
