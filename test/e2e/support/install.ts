/**
 * A root-owned install of av for the e2e suites, the way `sudo av install` lays it out, into temp dirs instead of
 * /opt/av, /usr/local/bin and /etc/av: `<dir>/prefix` (the av tree), `<dir>/bin` (the `av` link), and the policy at
 * `<dir>/etc/policy.json` (named through AV_POLICY; it passes the trust rule because `<dir>` and everything above
 * it is root-owned and not writable by others — /tmp is sticky). Every dir is 0755 so the test user can run av,
 * and the installed copy never references the source tree (which the test user may not be able to read).
 */
import {spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..')

export const AWS_CLI = ['/usr/bin/python3', '-I', '/usr/bin/aws']

export interface Installed {
  /** Root-owned 0755 temp dir holding everything below. */
  dir: string
  prefix: string
  binDir: string
  /** The root-owned copy of av (bin, dist, node_modules…): `<prefix>/lib/av`. */
  tree: string
  /** The installed av entry (`<tree>/bin/run.js`): `node <av> …`. */
  av: string
  /** The installed launcher shim (`<prefix>/bin/aws`). */
  aws: string
  policyFile: string
  /** Environment that points av at this install's policy. */
  env: Record<string, string>
}

function newestMtime(dir: string, filter: (name: string) => boolean): number {
  let newest = 0
  for (const name of readdirSync(dir, {recursive: true}) as string[]) {
    const p = path.join(dir, name)
    if (!filter(p)) continue
    const s = statSync(p)
    if (s.isFile()) newest = Math.max(newest, s.mtimeMs)
  }

  return newest
}

/** `npm run build` unless dist is newer than every source file. */
export function ensureBuilt(root = REPO_ROOT): void {
  const dist = path.join(root, 'dist')
  const manifest = path.join(root, 'oclif.manifest.json')
  const fresh =
    existsSync(path.join(dist, 'lib')) &&
    existsSync(manifest) &&
    newestMtime(path.join(root, 'src'), (p) => p.endsWith('.ts')) <= statSync(manifest).mtimeMs
  if (fresh) return
  const r = spawnSync('npm', ['run', 'build'], {cwd: root, encoding: 'utf8'})
  if (r.status !== 0) throw new Error(`npm run build failed:\n${r.stdout}\n${r.stderr}`)
}

function rootDir(p: string): string {
  mkdirSync(p, {recursive: true})
  chmodSync(p, 0o755)
  return p
}

function hasInstallCommand(root: string): boolean {
  try {
    const manifest = JSON.parse(readFileSync(path.join(root, 'oclif.manifest.json'), 'utf8')) as {
      commands?: Record<string, unknown>
    }
    return Boolean(manifest.commands?.install)
  } catch {
    return false
  }
}

/**
 * Build (once) and install av as root into a fresh temp prefix with a root-owned policy. `policy` is merged over
 * the e2e defaults: the Debian AWS CLI as runtime and any 127.0.0.1 endpoint allowed without approval.
 */
/**
 * Where test installs go: a root-only parent, not /tmp. The custody suite writes a real sudoers rule naming an
 * entry point inside its install; if a run died before teardown, a leftover rule must not name a path that any
 * user could create (anyone can create paths under the world-writable /tmp).
 */
export const E2E_ROOT = '/var/lib/av-e2e'

export function e2eTempDir(prefix: string): string {
  rootDir(E2E_ROOT)
  return rootDir(mkdtempSync(path.join(E2E_ROOT, prefix)))
}

export function installAv(policy: Record<string, unknown> = {}, root = REPO_ROOT, extraArgs: string[] = []): Installed {
  ensureBuilt(root)
  const dir = e2eTempDir('install-')
  const prefix = path.join(dir, 'prefix')
  const binDir = rootDir(path.join(dir, 'bin'))
  const policyFile = path.join(rootDir(path.join(dir, 'etc')), 'policy.json')
  writeFileSync(policyFile, JSON.stringify({awsCli: AWS_CLI, endpoints: ['http://127.0.0.1:*'], ...policy}, null, 2), {
    mode: 0o644,
  })
  const env = {AV_POLICY: policyFile}
  if (!hasInstallCommand(root)) throw new Error('this build of av has no `install` command')
  const r = spawnSync(
    process.execPath,
    [
      path.join(root, 'bin', 'run.js'),
      'install',
      '--prefix',
      prefix,
      '--bin-dir',
      binDir,
      '--policy',
      policyFile,
      // Custody is the Linux default: a suite that wants it says --custody, every other one runs keychain mode.
      ...(extraArgs.includes('--custody') ? extraArgs : ['--keychain', ...extraArgs]),
    ],
    {encoding: 'utf8', env: {...process.env, ...env}},
  )
  if (r.status !== 0) throw new Error(`av install failed (${r.status}):\n${r.stdout}\n${r.stderr}`)
  const tree = path.join(prefix, 'lib', 'av')
  const installed = {
    dir,
    prefix,
    binDir,
    tree,
    av: path.join(tree, 'bin', 'run.js'),
    aws: path.join(prefix, 'bin', 'aws'),
    policyFile,
    env,
  }
  for (const p of [installed.av, installed.aws]) {
    if (!existsSync(p)) throw new Error(`av install did not write ${p}`)
  }

  return installed
}

/** Rewrite the install's policy (root-owned, 0644) with `policy` merged over the e2e defaults. */
export function writePolicy(installed: Installed, policy: Record<string, unknown>): void {
  writeFileSync(
    installed.policyFile,
    JSON.stringify({awsCli: AWS_CLI, endpoints: ['http://127.0.0.1:*'], ...policy}, null, 2),
    {
      mode: 0o644,
    },
  )
}

/** `av uninstall --prefix …` (what a person would run), then remove the temp dirs whatever it left. */
export function removeInstall(installed: Installed | undefined, root = REPO_ROOT): void {
  if (!installed) return
  spawnSync(process.execPath, [path.join(root, 'bin', 'run.js'), 'uninstall', '--prefix', installed.prefix], {
    encoding: 'utf8',
    env: {...process.env, ...installed.env},
  })
  rmSync(installed.dir, {force: true, recursive: true})
}

/** Name prefix of the sudoers drop-ins test custody installs write (a killed run's are swept by the next). */
const E2E_DROPIN = 'av-custody-e2e-'

/** A fresh drop-in path for one test custody install. */
export function newDropIn(): string {
  return `/etc/sudoers.d/${E2E_DROPIN}${randomBytes(4).toString('hex')}`
}

/** The flags of a test custody install: key store and run records under `base`, its own sudoers drop-in. */
export function custodyArgs(base: string, sudoersFile: string): string[] {
  return [
    '--custody',
    '--custody-dir',
    path.join(base, 'custody'),
    '--run-dir',
    path.join(base, 'run'),
    '--sudoers-file',
    sudoersFile,
  ]
}

/** Drop-ins an earlier, killed run left behind (their install is gone). */
export function sweepStaleDropIns(): void {
  for (const name of readdirSync('/etc/sudoers.d')) {
    if (!name.startsWith(E2E_DROPIN)) continue
    const file = path.join('/etc/sudoers.d', name)
    // `NOPASSWD: <entry>, <launch>`: the first command, without its comma.
    const target = /NOPASSWD: ([^\s,]+)/.exec(readFileSync(file, 'utf8'))?.[1]
    if (!target || !existsSync(target)) rmSync(file, {force: true})
  }
}

/** oclif wraps error lines at the terminal width behind ` ›   `: one line again. */
export function flat(text: string): string {
  return text.replaceAll(/\s*\n ›\s+/g, ' ')
}
