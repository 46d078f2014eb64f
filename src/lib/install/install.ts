/**
 * `sudo av install` / `sudo av uninstall`: a root-owned copy of av the launcher and helper can trust.
 *
 * Install copies the built av (bin, dist, package.json, oclif.manifest.json and the production node_modules only)
 * to <prefix>/lib/av, root-owned 0755/0644; writes <bin-dir>/av and the launcher shim <prefix>/bin/aws, both
 * `#!/bin/sh` scripts that exec the root-owned node on that copy (a `#!/usr/bin/env node` link would let a
 * user's PATH pick an nvm node); optionally links <bin-dir>/aws to the shim; and names the AWS CLI runtime in the
 * policy (`awsCli`), keeping the policy's other keys. Every directory written into must pass the trust rule, every
 * file is written to a temp name and renamed (a planted symlink is replaced, never followed), and what was written
 * is recorded in <prefix>/install-manifest.json so `uninstall` removes exactly that. Running it twice writes the
 * same bytes.
 */
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import type {AwsRuntime} from '../aws/aws-runtime.js'
import type {CustodyPolicy} from '../core/policy.js'

import {AvError} from '../core/errors.js'
import {checkRootOwned} from '../core/trust.js'
import {IMPORTER, returnCustodyKeys, type ReturnWorld, systemReturnWorld} from '../custody/custody-return.js'
import {LAUNCH_ENV} from '../custody/root-launcher.js'
import {DEFAULT_RUN_DIR} from '../custody/run-record.js'

export const DEFAULTS = {
  binDir: '/usr/local/bin',
  custodyDir: '/var/lib/av/custody',
  runDir: DEFAULT_RUN_DIR,
  policy: '/etc/av/policy.json',
  prefix: '/opt/av',
  sudoersFile: '/etc/sudoers.d/av-custody',
} as const
/** sudo reads drop-ins only from here, and skips names with a dot or ending in `~`. */
export const SUDOERS_DIR = '/etc/sudoers.d'
export const MANIFEST_NAME = 'install-manifest.json'

export interface InstallOptions {
  binDir: string
  /**
   * Custody mode (the Linux default): the root-owned key store directory, where root keeps run records, and the
   * sudoers drop-in that lets users run the root launcher and the custody entry point.
   */
  custody?: {dir: string; runDir?: string; sudoersFile: string}
  linkAws: boolean
  policyFile: string
  prefix: string
}

export interface InstallDeps {
  /** Absolute path of the node binary the shims exec (root-owned, or install refuses). */
  node: string
  /** Root of the built av being installed (holds bin/run.js, dist, package.json, oclif.manifest.json). */
  source: string
  uid: number
  /** Finds the AWS CLI runtime to name in the policy when the policy does not name a usable one yet. */
  findRuntime(policyAwsCli: string[] | undefined): AwsRuntime
  /** `visudo -cf <file>`: is this sudoers text valid? (Custody only.) */
  checkSudoers?(file: string): {ok: boolean; output: string}
  /** Custody needs Linux (sudo's caller is checked through /proc). */
  platform?: NodeJS.Platform
}

export interface InstallManifest {
  v: 1
  prefix: string
  /** The copied tree (removed whole). */
  tree: string
  /**
   * Shims and links, with the exact content (or link target) written, so uninstall removes only those; a `copy`
   * (the CLI's interpreter, execute-only) records the sha256 of the bytes copied.
   */
  files: Array<{content: string; kind: 'copy' | 'file' | 'link'; path: string; source?: string}>
  /** Directories install created (removed when empty). */
  dirs: string[]
  policy: {
    created: boolean
    path: string
    previousAwsCli: null | string[]
    awsCli: string[]
    /** The policy bytes before the first install (null when install created it) and the bytes install wrote. */
    previousText: null | string
    writtenText: string
  }
  /** Custody mode: the entry points and sudoers drop-in are in `files`; the key store and run directories here. */
  custody?: {dir: string; entry: string; runDir?: string; sudoersFile: string}
}

export interface InstallResult {
  awsCli: string[]
  manifest: string
  written: string[]
}

function refuseUnlessRoot(uid: number, verb: string): void {
  if (uid !== 0) {
    throw new AvError('not-root', `av ${verb} changes root-owned files and must run as root`, {
      suggestion: `sudo av ${verb}`,
    })
  }
}

/** A directory we may write into: create what is missing (recording it), then require it to pass the trust rule. */
function trustedDir(dir: string, created: Set<string>): void {
  const missing: string[] = []
  let current = path.resolve(dir)
  while (!existsSync(current)) {
    missing.unshift(current)
    current = path.dirname(current)
  }

  const base = checkRootOwned(current)
  if (!base.ok) throw untrusted(dir, base.path, base.reason)
  for (const d of missing) {
    mkdirSync(d, {mode: 0o755})
    chmodSync(d, 0o755)
    created.add(d)
  }

  const verdict = checkRootOwned(dir)
  if (!verdict.ok) throw untrusted(dir, verdict.path, verdict.reason)
}

function untrusted(dir: string, where: string, reason: string): AvError {
  return new AvError('refused', `refusing to install into ${dir}: ${where} ${reason}`, {
    suggestion: 'Install under directories owned by root and writable by root only (e.g. /opt/av, /usr/local/bin).',
  })
}

/** Write `content` at `file` through a temp file and a rename: a symlink planted there is replaced, not followed. */
function writeRootFile(file: string, content: string, mode: number): void {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.av-${process.pid}`)
  rmSync(temp, {force: true})
  writeFileSync(temp, content, {flag: 'wx', mode})
  chownSync(temp, 0, 0)
  chmodSync(temp, mode)
  renameSync(temp, file)
}

function writeRootLink(link: string, target: string): void {
  const temp = path.join(path.dirname(link), `.${path.basename(link)}.av-${process.pid}`)
  rmSync(temp, {force: true})
  symlinkSync(target, temp)
  renameSync(temp, link)
}

/** Quote for /bin/sh. */
function shQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'"'"'`)}'`
}

export function shimText(node: string, entry: string, fixedArgs: string[]): string {
  const argv = [node, entry, ...fixedArgs].map((w) => shQuote(w)).join(' ')
  return `#!/bin/sh\n# Written by \`sudo av install\`; removed by \`sudo av uninstall\`.\nexec ${argv} "$@"\n`
}

/** Names of the production packages under node_modules (npm's hidden lockfile marks dev-only ones). */
export function productionPackages(hiddenLockfile: string): string[] {
  const lock = JSON.parse(hiddenLockfile) as {packages?: Record<string, {dev?: boolean; link?: boolean}>}
  return Object.entries(lock.packages ?? {})
    .filter(([name, meta]) => name.startsWith('node_modules/') && !meta.dev && !meta.link)
    .map(([name]) => name)
    .sort()
}

/** Copy a file or tree, root-owned, 0755 for directories and executables, 0644 for everything else. */
function copyTree(from: string, to: string, skip: (rel: string) => boolean, rel = ''): void {
  const stat = lstatSync(from)
  if (stat.isSymbolicLink()) return
  if (stat.isDirectory()) {
    mkdirSync(to, {mode: 0o755, recursive: true})
    chmodSync(to, 0o755)
    for (const name of readdirSync(from).sort()) {
      const childRel = rel ? `${rel}/${name}` : name
      if (!skip(childRel)) copyTree(path.join(from, name), path.join(to, name), skip, childRel)
    }

    return
  }

  if (!stat.isFile()) return
  copyFileSync(from, to)
  chownSync(to, 0, 0)
  chmodSync(to, stat.mode & 0o111 ? 0o755 : 0o644)
}

/** Directories created on the way (`@scope/` parents) got the umask's mode: make every one 0755. */
function settleDirModes(dir: string): void {
  chmodSync(dir, 0o755)
  for (const entry of readdirSync(dir, {withFileTypes: true})) {
    if (entry.isDirectory()) settleDirModes(path.join(dir, entry.name))
  }
}

function copyAv(source: string, tree: string): void {
  for (const required of ['bin/run.js', 'dist/lib/main/run-main.js', 'package.json', 'oclif.manifest.json']) {
    if (!existsSync(path.join(source, required))) {
      throw new AvError('not-found', `${path.join(source, required)} is missing: this is not a built av`, {
        suggestion: 'Run `npm run build` in the av checkout first.',
      })
    }
  }

  const modules = realpathSync(path.join(source, 'node_modules'))
  const packages = productionPackages(readFileSync(path.join(modules, '.package-lock.json'), 'utf8'))
  const staging = `${tree}.staging-${process.pid}`
  rmSync(staging, {force: true, recursive: true})
  mkdirSync(staging, {mode: 0o755})
  chmodSync(staging, 0o755)
  for (const part of ['bin', 'dist', 'package.json', 'oclif.manifest.json']) {
    copyTree(path.join(source, part), path.join(staging, part), () => false)
  }

  // The hidden lockfile goes along, so `sudo av install` run from an installed copy can install it again.
  mkdirSync(path.join(staging, 'node_modules'), {mode: 0o755})
  copyTree(
    path.join(modules, '.package-lock.json'),
    path.join(staging, 'node_modules', '.package-lock.json'),
    () => false,
  )
  for (const name of packages) {
    const from = path.join(modules, name.slice('node_modules/'.length))
    // Optional packages for other platforms are in the lockfile but not on disk.
    if (!existsSync(from)) continue
    // Nested node_modules hold their own entries in the lockfile: copy each package without them.
    copyTree(from, path.join(staging, name), (rel) => rel === 'node_modules' || rel.startsWith('node_modules/'))
  }

  settleDirModes(staging)
  const old = `${tree}.old-${process.pid}`
  if (existsSync(tree)) renameSync(tree, old)
  renameSync(staging, tree)
  rmSync(old, {force: true, recursive: true})
}

function readManifest(prefix: string): InstallManifest | null {
  const file = path.join(prefix, MANIFEST_NAME)
  if (!existsSync(file)) return null
  const verdict = checkRootOwned(file)
  if (!verdict.ok) {
    throw new AvError('refused', `the install manifest ${file} is not root-owned (${verdict.path} ${verdict.reason})`, {
      suggestion: 'Remove it by hand after checking what wrote it.',
    })
  }

  return JSON.parse(readFileSync(file, 'utf8')) as InstallManifest
}

type FileKind = InstallManifest['files'][number]['kind']

/**
 * What is at `file` now: the content of a regular file (for a `copy`, the sha256 of its bytes), the target of a
 * link, or null when nothing is there.
 */
function currentContent(file: string, as: FileKind = 'file'): null | {content: string; kind: FileKind} {
  try {
    const stat = lstatSync(file)
    if (stat.isSymbolicLink()) return {content: readlinkSync(file), kind: 'link'}
    if (stat.isFile() && as === 'copy') return {content: sha256File(file), kind: 'copy'}
    if (stat.isFile()) return {content: readFileSync(file, 'utf8'), kind: 'file'}
    return {content: '', kind: 'file'}
  } catch {
    return null
  }
}

/** Refuse to replace a file at `target` that av did not write. */
function claimable(target: string, want: {content: string; kind: FileKind}, previous: InstallManifest | null) {
  const now = currentContent(target, want.kind)
  if (now === null) return
  const ours = previous?.files.some((f) => f.path === target && f.kind === now.kind && f.content === now.content)
  const same = now.kind === want.kind && now.content === want.content
  if (!ours && !same) {
    throw new AvError('conflict', `${target} exists and was not written by av install`, {
      suggestion: `Move it away first (it may be another AWS CLI or av install), or choose another --bin-dir.`,
    })
  }
}

function readPolicyDoc(file: string): null | Record<string, unknown> {
  if (!existsSync(file)) return null
  const verdict = checkRootOwned(file)
  if (!verdict.ok) {
    throw new AvError('refused', `the policy ${file} is not root-owned (${verdict.path} ${verdict.reason})`, {
      suggestion: 'Check who wrote it, fix its owner and mode (root, 0644), then run `sudo av install` again.',
    })
  }

  try {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as unknown
    if (typeof doc === 'object' && doc !== null && !Array.isArray(doc)) return doc as Record<string, unknown>
  } catch {}

  throw new AvError('conflict', `the policy ${file} is not a JSON object`, {
    suggestion: 'Fix or remove it, then run `sudo av install` again.',
  })
}

/** `visudo -cf <file>` with the system's visudo. */
export function checkSudoersFile(file: string): {ok: boolean; output: string} {
  const r = spawnSync('/usr/sbin/visudo', ['-cf', file], {encoding: 'utf8'})
  return {ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}`}
}

interface CustodyPlan {
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

/** The root launcher's entry script: an empty environment but SUDO_UID, the policy and the launch variables. */
export function launchEntryText(input: {node: string; policyFile: string; script: string}): string {
  const passed = LAUNCH_ENV.map((name) => `\${${name}+"${name}=$${name}"}`).join(' ')
  return (
    "#!/bin/sh\n# Written by `sudo av install`; removed by `sudo av uninstall`. Run through `sudo -n` by av's aws launcher.\n" +
    `exec /usr/bin/env -i SUDO_UID="$SUDO_UID" AV_POLICY=${shQuote(input.policyFile)} ${passed} ${shQuote(input.node)} ${shQuote(input.script)} "$@"\n`
  )
}

/**
 * The `aws` shim in custody mode: refuse under a tracer by name (sudo would only say it cannot become root), then
 * hand the argv to the root launcher through `sudo -n`. Only shell builtins run before sudo.
 */
export function custodyShimText(launch: string): string {
  return (
    '#!/bin/sh\n# Written by `sudo av install`; removed by `sudo av uninstall`.\n' +
    'while read -r key value; do\n' +
    '  if [ "$key" = TracerPid: ]; then\n' +
    '    [ "$value" = 0 ] || { echo "av: refused (traced): this aws run is being traced (tracer $value); run it without strace/gdb" >&2; exit 126; }\n' +
    '    break\n' +
    '  fi\n' +
    'done < /proc/self/status\n' +
    `exec /usr/bin/sudo -n ${launch} aws "$@"\n`
  )
}

/**
 * Custody: the entry point `<prefix>/libexec/av-custody` (custody-main.js, keys and releases), its password-guarded
 * twin `av-custody-auth` (checkout, approve: sudo asks the user's password every time, timestamp_timeout=0), the
 * root launcher `av-launch` (root-launch-main.js), and a copy of the CLI's Python interpreter that users may run but
 * not read (0711), so the kernel makes the AWS CLI non-dumpable. The drop-in lets every user run the launcher and
 * the entry point as root without a password, with sudo's env_reset and only the launch variables kept.
 */
function planCustody(
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
  const entryText = (extra: string, how: string) =>
    `#!/bin/sh\n# Written by \`sudo av install\`; removed by \`sudo av uninstall\`. Run through ${how} by av.\n` +
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
  return {
    authEntry,
    awsCli: interpreter ? [interpreter.copy, ...where.awsCli.slice(1)] : null,
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
      {content: entryText('', '`sudo -n`'), kind: 'file', path: entry},
      {content: entryText(' AV_CUSTODY_AUTHENTICATED=1', 'sudo, after the password'), kind: 'file', path: authEntry},
      {
        content: launchEntryText({
          node: where.node,
          policyFile: where.policyFile,
          script: path.join(where.tree, 'dist', 'lib', 'main', 'root-launch-main.js'),
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

function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex')
}

/** The policy's custody key: what this install wrote, over settings an administrator added (a timeout). */
function custodyPolicyKey(custody: CustodyPlan | null, previous: unknown): {custody?: CustodyPolicy} {
  if (!custody) return {}
  const {dir, entry, launch, runDir} = custody
  const kept = typeof previous === 'object' && previous !== null ? (previous as Partial<CustodyPolicy>) : {}
  const settings =
    kept.approvalTimeoutSeconds === undefined ? {} : {approvalTimeoutSeconds: kept.approvalTimeoutSeconds}
  return {custody: {...settings, dir, entry, launch, runDir, ...(custody.awsCli ? {awsCli: custody.awsCli} : {})}}
}

/** Directories (trusted), the key store root (0700 root), an untampered entry point, and a sudoers text visudo accepts. */
function prepareCustody(custody: CustodyPlan, created: Set<string>, deps: InstallDeps): void {
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

/**
 * Shims, links and the custody entry point; the sudoers drop-in last (0440): only once the entry point it names is
 * in place does sudo let users run it.
 */
function writeFiles(files: InstallManifest['files'], custody: CustodyPlan | null): void {
  for (const file of files) {
    if (file.kind === 'link') writeRootLink(file.path, file.content)
    else if (file.kind === 'copy') copyExecuteOnly(file.source!, file.path, file.content)
    else if (file.path !== custody?.sudoersFile) writeRootFile(file.path, file.content, 0o755)
  }

  if (custody) writeRootFile(custody.sudoersFile, custody.sudoersText, 0o440)
}

/**
 * Copy `source` to `target` root-owned with mode 0711: users may run it but not read it, and the kernel marks a
 * process started from a file its user cannot read as non-dumpable (no ptrace, no /proc/<pid>/environ or mem).
 */
function copyExecuteOnly(source: string, target: string, sha256: string): void {
  const temp = path.join(path.dirname(target), `.${path.basename(target)}.av-${process.pid}`)
  rmSync(temp, {force: true})
  copyFileSync(source, temp)
  chownSync(temp, 0, 0)
  chmodSync(temp, 0o711)
  if (sha256File(temp) !== sha256) throw new AvError('internal', `${source} changed while av copied it`)
  renameSync(temp, target)
}

function requireRootNode(node: string): void {
  const verdict = checkRootOwned(node)
  if (!verdict.ok) {
    throw new AvError(
      'runtime-untrusted',
      `node at ${node} is not root-controlled (${verdict.path} ${verdict.reason})`,
      {
        suggestion: 'Install Node.js system-wide (e.g. apt-get install nodejs) and run `sudo av install` with it.',
      },
    )
  }
}

function refuseCustodyOffLinux(platform: NodeJS.Platform): void {
  if (platform === 'linux') return
  throw new AvError('usage', `custody mode needs Linux (it checks sudo's caller through /proc), not ${platform}`, {
    suggestion: 'Install without --custody: av keeps the keys in the OS keychain.',
  })
}

export function installAv(options: InstallOptions, deps: InstallDeps): InstallResult {
  refuseUnlessRoot(deps.uid, 'install')
  if (options.custody) refuseCustodyOffLinux(deps.platform ?? process.platform)

  const prefix = path.resolve(options.prefix)
  requireRootNode(deps.node)
  const previous = readManifest(prefix)
  if (previous?.custody && !options.custody) {
    throw new AvError('conflict', `custody is installed under ${prefix}, and the keys it holds would be left behind`, {
      suggestion:
        'Run `sudo -E av uninstall` first (it hands every key back to its owner’s keychain), then `sudo av install --keychain`.',
    })
  }

  const created = new Set(previous?.dirs ?? [])
  const policyDoc = readPolicyDoc(options.policyFile)
  const existingAwsCli = Array.isArray(policyDoc?.awsCli) ? (policyDoc.awsCli as string[]) : undefined
  const runtime = deps.findRuntime(existingAwsCli)

  const tree = path.join(prefix, 'lib', 'av')
  const entry = path.join(tree, 'bin', 'run.js')
  const custody = options.custody
    ? planCustody(options.custody, {
        awsCli: runtime.argv,
        node: deps.node,
        policyFile: options.policyFile,
        prefix,
        tree,
      })
    : null
  const shim = custody ? custodyShimText(custody.launch) : shimText(deps.node, entry, ['run', '--', 'aws'])
  const files: InstallManifest['files'] = [
    {content: shim, kind: 'file', path: path.join(prefix, 'bin', 'aws')},
    {content: shimText(deps.node, entry, []), kind: 'file', path: path.join(options.binDir, 'av')},
  ]
  if (options.linkAws) files.push({content: files[0]!.path, kind: 'link', path: path.join(options.binDir, 'aws')})
  if (custody) files.push(...custody.files)

  try {
    for (const dir of [
      path.join(prefix, 'lib'),
      path.join(prefix, 'bin'),
      options.binDir,
      path.dirname(options.policyFile),
    ]) {
      trustedDir(dir, created)
    }

    if (custody) {
      prepareCustody(custody, created, deps)
      trustedDir(custody.runDir, created)
      chmodSync(custody.runDir, 0o711)
    }

    for (const file of files) claimable(file.path, file, previous)
  } catch (error) {
    // Refused before writing anything: take back the directories this attempt made (no manifest will name them).
    removeNewDirs(created, new Set(previous?.dirs ?? []))
    throw error
  }

  copyAv(deps.source, tree)
  writeFiles(files, custody)

  // Only awsCli changes; every other key stays. Install keeps the awsCli it found usable.
  const policyCreated = previous?.policy.created ?? policyDoc === null
  const previousAwsCli = previous ? previous.policy.previousAwsCli : (existingAwsCli ?? null)
  const previousText = previous ? previous.policy.previousText : policyDoc && readFileSync(options.policyFile, 'utf8')
  const policyText =
    JSON.stringify({...policyDoc, awsCli: runtime.argv, ...custodyPolicyKey(custody, policyDoc?.custody)}, null, 2) +
    '\n'
  writeRootFile(options.policyFile, policyText, 0o644)

  const manifest: InstallManifest = {
    v: 1,
    prefix,
    tree,
    files,
    dirs: [...created].sort(),
    policy: {
      awsCli: runtime.argv,
      created: policyCreated,
      path: options.policyFile,
      previousAwsCli,
      previousText,
      writtenText: policyText,
    },
    ...(custody
      ? {custody: {dir: custody.dir, entry: custody.entry, runDir: custody.runDir, sudoersFile: custody.sudoersFile}}
      : {}),
  }
  const manifestFile = path.join(prefix, MANIFEST_NAME)
  writeRootFile(manifestFile, JSON.stringify(manifest, null, 2) + '\n', 0o644)
  return {
    awsCli: runtime.argv,
    manifest: manifestFile,
    written: [tree, ...files.map((f) => f.path), options.policyFile, manifestFile],
  }
}

/** Remove, deepest first, the directories in `created` that were not there before and are still empty. */
function removeNewDirs(created: Set<string>, before: Set<string>): void {
  for (const dir of [...created].filter((d) => !before.has(d)).sort((a, b) => b.length - a.length)) {
    try {
      rmdirSync(dir)
    } catch {
      // not empty, or gone: leave it
    }
  }
}

export interface UninstallResult {
  /** Left in place: changed since install, or a directory that is not empty. */
  kept: string[]
  removed: string[]
  /** Custody: users whose durable keys went back into their own keychain. */
  returned: string[]
  /** The policy, with awsCli put back as it was before install (other keys untouched). */
  restored: string[]
}

export function uninstallAv(
  options: {prefix: string},
  deps: {returnWorld?: ReturnWorld; uid: number},
): UninstallResult {
  refuseUnlessRoot(deps.uid, 'uninstall')
  const prefix = path.resolve(options.prefix)
  const manifest = readManifest(prefix)
  if (!manifest) {
    throw new AvError('not-found', `no av install under ${prefix} (${path.join(prefix, MANIFEST_NAME)} is missing)`, {
      suggestion: 'Name the prefix it was installed with: sudo av uninstall --prefix <dir>.',
    })
  }

  // Keys first, into each owner's keychain; this throws, having removed nothing, unless every key went.
  const importer = path.join(manifest.tree, 'dist', 'lib', 'main', 'keychain-import-main.js')
  const world = deps.returnWorld ?? systemReturnWorld(existsSync(importer) ? importer : IMPORTER)
  const returned = manifest.custody ? returnCustodyKeys(manifest.custody.dir, world) : []
  const result: UninstallResult = {kept: [], removed: [], restored: [], returned}
  const {kept, removed} = result
  for (const file of manifest.files) {
    const now = currentContent(file.path, file.kind)
    if (now === null) continue
    if (now.kind === file.kind && now.content === file.content) {
      unlinkSync(file.path)
      removed.push(file.path)
    } else kept.push(file.path)
  }

  rmSync(manifest.tree, {force: true, recursive: true})
  removed.push(manifest.tree)
  if (manifest.custody && existsSync(manifest.custody.dir)) {
    // The durable keys are in their owners' keychains now; token keys and cached sessions are not needed.
    rmSync(manifest.custody.dir, {force: true, recursive: true})
    removed.push(manifest.custody.dir)
  }

  // Run records and sealed HOMEs of runs (none is live once the launcher is gone), when this install made the
  // directory: one another install shares (an existing /run/av) stays.
  const {runDir} = manifest.custody ?? {}
  if (runDir && manifest.dirs.includes(runDir) && existsSync(runDir)) {
    rmSync(runDir, {force: true, recursive: true})
    removed.push(runDir)
  }

  revertPolicy(manifest.policy, result)

  const manifestFile = path.join(prefix, MANIFEST_NAME)
  unlinkSync(manifestFile)
  removed.push(manifestFile)
  // Deepest first; a directory someone else put files in stays.
  for (const dir of [...manifest.dirs].sort((a, b) => b.length - a.length)) {
    try {
      rmdirSync(dir)
      removed.push(dir)
    } catch {
      if (existsSync(dir)) kept.push(dir)
    }
  }

  removeEmptyLayout(manifest, removed)
  return result
}

/**
 * The prefix's own layout (`bin`, `lib`, `libexec`: the parents of what the manifest names inside the prefix) and
 * the prefix itself, when nothing but those, empty, is left there. `dirs` lists only what the recorded install
 * created: an install that was refused part-way (a foreign sudoers drop-in, visudo, a tampered entry point) has
 * already created them without a manifest, and the install that then succeeded found them present. A prefix
 * holding anything else (such as /usr/local) keeps every directory.
 */
function removeEmptyLayout(manifest: InstallManifest, removed: string[]): void {
  const {prefix} = manifest
  const inside = [manifest.tree, ...manifest.files.map((f) => f.path)].filter((p) => p.startsWith(prefix + path.sep))
  const layout = new Set(inside.map((p) => path.dirname(p)).filter((d) => d !== prefix))
  let entries: string[]
  try {
    entries = readdirSync(prefix)
  } catch {
    return
  }

  const ownOnly = entries.every((name) => {
    const dir = path.join(prefix, name)
    return layout.has(dir) && lstatSync(dir).isDirectory() && readdirSync(dir).length === 0
  })
  if (!ownOnly) return
  for (const dir of [...entries.map((name) => path.join(prefix, name)), prefix]) {
    rmdirSync(dir)
    removed.push(dir)
  }
}

function revertPolicy(policy: InstallManifest['policy'], {kept, removed, restored}: UninstallResult): void {
  if (!existsSync(policy.path) || !statSync(policy.path).isFile()) return
  const doc = readPolicyDoc(policy.path) ?? {}
  // Untouched since install: put the exact bytes back (or remove the file install created).
  if (readFileSync(policy.path, 'utf8') === policy.writtenText) {
    if (policy.previousText === null) {
      unlinkSync(policy.path)
      removed.push(policy.path)
    } else {
      writeRootFile(policy.path, policy.previousText, 0o644)
      restored.push(policy.path)
    }

    return
  }

  // Edited since: change only awsCli back, keep the edits.
  const {awsCli, ...rest} = doc
  if (JSON.stringify(awsCli) !== JSON.stringify(policy.awsCli)) {
    kept.push(policy.path)
    return
  }

  if (policy.created && Object.keys(rest).length === 0) {
    unlinkSync(policy.path)
    removed.push(policy.path)
    return
  }

  const previous = policy.previousAwsCli ? {...rest, awsCli: policy.previousAwsCli} : rest
  writeRootFile(policy.path, JSON.stringify(previous, null, 2) + '\n', 0o644)
  restored.push(policy.path)
}
