/**
 * Install's custody part (the Linux default): plan the entry points, the root launcher, the execute-only
 * interpreter and the sudoers drop-in; prepare their directories, the key store root and a drop-in visudo accepts;
 * and the policy's `custody` key.
 */
import {spawnSync} from 'node:child_process'
import {chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import type {CustodyPolicy} from '../core/policy.js'

import {AvError} from '../core/errors.js'
import {checkRootOwned} from '../core/trust.js'
import {LAUNCH_ENV} from '../custody/root-launcher.js'
import {prewarmArgv} from '../run/prewarm.js'
import {DEFAULTS, type InstallDeps, type InstallManifest, type InstallOptions} from './install-manifest.js'
import {sha256File, trustedDir, untrusted} from './root-files.js'
import {launchEntryText, shQuote} from './shims.js'

/** sudo reads drop-ins only from here, and skips names with a dot or ending in `~`. */
export const SUDOERS_DIR = '/etc/sudoers.d'

/** `visudo -cf <file>` with the system's visudo. */
export function checkSudoersFile(file: string): {ok: boolean; output: string} {
  const r = spawnSync('/usr/sbin/visudo', ['-cf', file], {encoding: 'utf8'})
  return {ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}`}
}

export interface CustodyPlan {
  dir: string
  entry: string
  /** `<entry>-auth`: the same program behind sudo's password, for the verbs that hand a key out or approve a run. */
  authEntry: string
  /** The root launcher's entry point, run through `sudo -n` by the `aws` shim and `av run`. */
  launch: string
  runDir: string
  /** The CLI argv with its interpreter replaced by the execute-only copy (null: no copy could be made). */
  awsCli: null | string[]
  files: InstallManifest['files']
  sudoersFile: string
  sudoersText: string
}

/** Characters a sudoers command path may hold without escaping (sudoers escapes `,:=\\` and spaces). */
const SUDOERS_SAFE_PATH = /^\/[\w./-]+$/

/** A Python interpreter the CLI runtime names first (Debian's /usr/bin/python3 → python3.11). */
const PYTHON = /^python3(?:\.\d+)?$/

/**
 * Custody: the entry point `<prefix>/libexec/av-custody` (custody-main.js, keys and releases), its password-guarded
 * twin `av-custody-auth` (checkout, approve: sudo asks the user's password every time, timestamp_timeout=0), the
 * root launcher `av-launch` (root-launch.ts, then root-launch-main.ts), and a copy of the CLI's Python interpreter
 * that users may run but not read (0711), so the kernel makes the AWS CLI non-dumpable. The drop-in lets every user run the launcher and
 * the entry point as root without a password, with sudo's env_reset and only the launch variables kept.
 */
export function planCustody(
  custody: NonNullable<InstallOptions['custody']>,
  where: {awsCli: string[]; node: string; policyFile: string; prefix: string; tree: string},
): CustodyPlan {
  const libexec = path.join(where.prefix, 'libexec')
  const entry = path.join(libexec, 'av-custody')
  const launch = path.join(libexec, 'av-launch')
  const dir = path.resolve(custody.dir)
  const runDir = path.resolve(custody.runDir ?? DEFAULTS.runDir)
  const {sudoersFile} = custody
  if (path.dirname(sudoersFile) !== SUDOERS_DIR || !/^[\w-]+$/.test(path.basename(sudoersFile))) {
    throw new AvError('usage', `the sudoers drop-in must be ${SUDOERS_DIR}/<name> with letters, digits, - and _ only`, {
      suggestion: 'sudo reads drop-ins only from /etc/sudoers.d and skips names with a dot.',
    })
  }

  if (!SUDOERS_SAFE_PATH.test(entry)) {
    throw new AvError('usage', `the custody entry point path ${entry} holds characters sudoers would need escaped`, {
      suggestion: 'Choose a --prefix made of letters, digits, ., _, - and /.',
    })
  }

  const script = path.join(where.tree, 'dist', 'lib', 'main', 'custody-main.js')
  const authEntry = `${entry}-auth`
  const entryText = (extra: string, how: string, prologue = '') =>
    `#!/bin/sh\n# Written by \`sudo av install\`; removed by \`sudo av uninstall\`. Run through ${how} by av.\n` +
    prologue +
    `exec /usr/bin/env -i SUDO_UID="$SUDO_UID" AV_POLICY=${shQuote(where.policyFile)}${extra} \${AV_TRACE+"AV_TRACE=$AV_TRACE"} ${shQuote(where.node)} ${shQuote(script)} "$@"\n`
  const sudoersText =
    "# Written by `sudo av install`: any user may run av's root launcher and custody entry point as root.\n" +
    `ALL ALL=(root) NOPASSWD: ${entry}, ${launch}\n` +
    "# Handing a durable key out (av restore) or approving a held run needs the user's password, every time.\n" +
    `ALL ALL=(root) PASSWD: ${authEntry}\n` +
    `Defaults!${authEntry} timestamp_timeout=0\n` +
    '# The launcher shares the terminal (no pty of its own) and keeps only the variables it may read.\n' +
    `Defaults!${launch} !use_pty, env_keep = "${LAUNCH_ENV.join(' ')}"\n` +
    `Defaults!${entry} !use_pty, env_keep = "AV_TRACE"\n`
  const interpreter = interpreterCopy(where.awsCli, libexec)
  const awsCli = interpreter ? [interpreter.copy, ...where.awsCli.slice(1)] : null
  const prewarm = awsCli ? prewarmArgv(awsCli) : null
  return {
    authEntry,
    awsCli,
    dir,
    entry,
    files: [
      ...(interpreter
        ? [
            {
              content: sha256File(interpreter.source),
              kind: 'copy' as const,
              path: interpreter.copy,
              source: interpreter.source,
            },
          ]
        : []),
      {content: entryText('', '`sudo -n`', releaseFastPath(runDir)), kind: 'file', path: entry},
      {content: entryText(' AV_CUSTODY_AUTHENTICATED=1', 'sudo, after the password'), kind: 'file', path: authEntry},
      {
        content: launchEntryText({
          node: where.node,
          policyFile: where.policyFile,
          ...(prewarm ? {prewarm: {argv: prewarm, runDir}} : {}),
          script: path.join(where.tree, 'dist', 'lib', 'main', 'root-launch.cjs'),
        }),
        kind: 'file',
        path: launch,
      },
      {content: sudoersText, kind: 'file', path: sudoersFile},
    ],
    launch,
    runDir,
    sudoersFile,
    sudoersText,
  }
}

/**
 * The entry script's fast path for `release` (main/release-server.ts): while the root launcher that started this
 * run's AWS CLI still runs, it answers the release itself. The script, root through sudo, makes a FIFO named by its
 * pid in the run's root-only serve directory and prints what the launcher writes there: the credential_process
 * document on stdout, or `<exit code> <refusal line>` on stderr. Shell builtins and three coreutils; no Node. With no
 * serve directory (no launcher for that run, or an older one) the entry point answers, as it always could.
 */
function releaseFastPath(runDir: string): string {
  return [
    'if [ $# -eq 5 ] && [ "$1" = release ] && [ "$2" = --profile ] && [ "$4" = --run ]; then',
    '  case "$SUDO_UID:$5" in',
    '  *[!0-9a-f:]* | :* | *:) ;;',
    '  *)',
    `    serve=${shQuote(runDir)}/"$SUDO_UID"/serve-"$5"`,
    '    PATH=/usr/bin:/bin',
    '    if [ -d "$serve" ] && mkfifo -m 600 "$serve/$$" 2>/dev/null; then',
    '      reply=$(timeout 300 cat "$serve/$$")',
    '      rm -f "$serve/$$"',
    '      case "$reply" in',
    String.raw`      '{'*) printf '%s\n' "$reply"; exit 0 ;;`,
    // eslint-disable-next-line no-template-curly-in-string -- shell parameter expansion, not a template
    '      [0-9]*\' \'*) printf \'%s\\n\' "${reply#* }" >&2; exit "${reply%% *}" ;;',
    '      esac',
    "      echo 'av custody: failed (internal): the root launcher did not answer this release.' >&2",
    '      exit 125',
    '    fi',
    '    ;;',
    '  esac',
    'fi',
    '',
  ].join('\n')
}

/** The CLI runtime's Python interpreter and where its execute-only copy goes; null for another kind of runtime. */
function interpreterCopy(awsCli: string[], libexec: string): null | {copy: string; source: string} {
  let source: string
  try {
    source = realpathSync(awsCli[0]!)
  } catch {
    return null
  }

  return PYTHON.test(path.basename(source)) ? {copy: path.join(libexec, 'aws-python3'), source} : null
}

/** The policy's custody key: what this install wrote, over settings an administrator added (a timeout). */
export function custodyPolicyKey(custody: CustodyPlan | null, previous: unknown): {custody?: CustodyPolicy} {
  if (!custody) return {}
  const {dir, entry, launch, runDir} = custody
  const kept = typeof previous === 'object' && previous !== null ? (previous as Partial<CustodyPolicy>) : {}
  const settings =
    kept.approvalTimeoutSeconds === undefined ? {} : {approvalTimeoutSeconds: kept.approvalTimeoutSeconds}
  return {custody: {...settings, dir, entry, launch, runDir, ...(custody.awsCli ? {awsCli: custody.awsCli} : {})}}
}

/** Directories (trusted), the key store root (0700 root), an untampered entry point, and a sudoers text visudo accepts. */
export function prepareCustody(custody: CustodyPlan, created: Set<string>, deps: InstallDeps): void {
  trustedDir(path.dirname(custody.entry), created)
  for (const entry of [custody.entry, custody.authEntry, custody.launch]) {
    if (!existsSync(entry)) continue
    const verdict = checkRootOwned(entry)
    if (!verdict.ok) {
      throw new AvError(
        'refused',
        `the custody entry point ${entry} was tampered with: ${verdict.path} ${verdict.reason}`,
        {
          suggestion: 'Find out who changed it, remove it, and run `sudo av install` again.',
        },
      )
    }
  }

  trustedDir(path.dirname(custody.dir), created)
  if (!existsSync(custody.dir)) {
    mkdirSync(custody.dir, {mode: 0o700})
    created.add(custody.dir)
  }

  chownSync(custody.dir, 0, 0)
  chmodSync(custody.dir, 0o700)
  const verdict = checkRootOwned(custody.dir, undefined, {directory: true})
  if (!verdict.ok) throw untrusted(custody.dir, verdict.path, verdict.reason)

  const dir = checkRootOwned(SUDOERS_DIR, undefined, {directory: true})
  if (!dir.ok) throw untrusted(SUDOERS_DIR, dir.path, dir.reason)
  if (!deps.checkSudoers) throw new AvError('internal', 'no sudoers check available')
  const temp = mkdtempSync(path.join(tmpdir(), 'av-sudoers-'))
  try {
    const file = path.join(temp, 'av-custody')
    writeFileSync(file, custody.sudoersText, {mode: 0o440})
    const check = deps.checkSudoers(file)
    if (!check.ok) {
      throw new AvError('internal', `visudo rejected the custody drop-in: ${check.output.trim().slice(0, 300)}`)
    }
  } finally {
    rmSync(temp, {force: true, recursive: true})
  }
}

export function refuseCustodyOffLinux(platform: NodeJS.Platform): void {
  if (platform === 'linux') return
  throw new AvError('usage', `custody mode needs Linux (it checks sudo's caller through /proc), not ${platform}`, {
    suggestion: 'Install without --custody: av keeps the keys in the OS keychain.',
  })
}
