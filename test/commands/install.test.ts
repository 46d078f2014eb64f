import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import {fileURLToPath} from 'node:url'

import type {AwsRuntime} from '../../src/lib/aws/aws-runtime.js'

import {AvError, EXIT} from '../../src/lib/core/errors.js'
import {type InstallOptions} from '../../src/lib/install/install-manifest.js'
import {installAv} from '../../src/lib/install/install.js'
import {uninstallAv} from '../../src/lib/install/uninstall.js'

const RUNTIME: AwsRuntime = {argv: ['/usr/bin/python3', '-I', '/usr/bin/aws'], source: 'debian'}
const REPO = fileURLToPath(new URL('../..', import.meta.url))

/** Every file and link under `dir` with its mode, owner and bytes (or link target). */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (p: string) => {
    const s = lstatSync(p)
    const rel = path.relative(dir, p) || '.'
    if (s.isSymbolicLink()) out[rel] = `link ${readlinkSync(p)}`
    else if (s.isDirectory()) {
      out[rel] = `dir ${(s.mode & 0o7777).toString(8)} ${s.uid}`
      for (const name of readdirSync(p)) walk(path.join(p, name))
    } else out[rel] = `file ${(s.mode & 0o7777).toString(8)} ${s.uid} ${readFileSync(p, 'base64')}`
  }

  walk(dir)
  return out
}

/** A fake built av: the files install copies, and node_modules with one production and one dev-only package. */
function fakeBuiltAv(root: string): string {
  const source = path.join(root, 'src-av')
  const files: Record<string, string> = {
    'bin/run.js': '#!/usr/bin/env node\n',
    'dist/lib/main/helper-entry.cjs': '\n',
    'dist/lib/main/run-entry.cjs': '\n',
    'dist/lib/main/run-main.js': 'export {}\n',
    'modules/.package-lock.json': JSON.stringify({
      packages: {
        'node_modules/@scope/prod': {version: '1.0.0'},
        'node_modules/@scope/prod/node_modules/nested': {version: '1.0.0'},
        'node_modules/devonly': {dev: true, version: '1.0.0'},
        'node_modules/other-platform': {optional: true, version: '1.0.0'},
      },
    }),
    'modules/@scope/prod/index.js': 'prod\n',
    'modules/@scope/prod/node_modules/nested/index.js': 'nested\n',
    'modules/devonly/index.js': 'dev\n',
    'oclif.manifest.json': '{}\n',
    'package.json': '{"name":"av"}\n',
    'src/not-copied.ts': 'x\n',
  }
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(source, rel)), {recursive: true})
    writeFileSync(path.join(source, rel), content)
  }

  chmodSync(path.join(source, 'bin/run.js'), 0o775)
  symlinkSync(path.join(source, 'modules'), path.join(source, 'node_modules'))
  return source
}

describe('av install / uninstall (as root, into a temp prefix)', () => {
  let root: string
  let source: string
  let options: InstallOptions
  let beforeInstall: Record<string, string>
  const deps = () => ({findRuntime: () => RUNTIME, node: '/usr/bin/node', source, uid: 0})

  before(() => {
    root = mkdtempSync('/tmp/av-install-test-')
    chmodSync(root, 0o755)
    source = fakeBuiltAv(root)
    mkdirSync(path.join(root, 'etc'))
    writeFileSync(
      path.join(root, 'etc', 'policy.json'),
      JSON.stringify({
        awsCli: ['/usr/bin/old-aws'],
        endpoints: ['http://127.0.0.1:*'],
        sts: {endpoint: 'http://127.0.0.1:1'},
      }),
    )
    options = {
      binDir: path.join(root, 'usr-local-bin'),
      linkAws: true,
      policyFile: path.join(root, 'etc', 'policy.json'),
      prefix: path.join(root, 'opt', 'av'),
    }
    beforeInstall = snapshot(root)
  })

  after(() => rmSync(root, {force: true, recursive: true}))

  it('writes a root-owned copy, the shims and the policy, and only production packages', () => {
    const result = installAv(options, deps())
    assert.deepEqual(result.awsCli, RUNTIME.argv)
    const tree = snapshot(path.join(options.prefix, 'lib', 'av'))
    assert.deepEqual(Object.keys(tree).sort(), [
      '.',
      'bin',
      'bin/run.js',
      'dist',
      'dist/lib',
      'dist/lib/main',
      'dist/lib/main/helper-entry.cjs',
      'dist/lib/main/run-entry.cjs',
      'dist/lib/main/run-main.js',
      'node_modules',
      'node_modules/.package-lock.json',
      'node_modules/@scope',
      'node_modules/@scope/prod',
      'node_modules/@scope/prod/index.js',
      'node_modules/@scope/prod/node_modules',
      'node_modules/@scope/prod/node_modules/nested',
      'node_modules/@scope/prod/node_modules/nested/index.js',
      'oclif.manifest.json',
      'package.json',
    ])
    for (const [rel, facts] of Object.entries(tree)) {
      const [kind, mode, uid] = facts.split(' ')
      assert.equal(uid, '0', `${rel} root-owned`)
      assert.equal(mode, kind === 'dir' || rel === 'bin/run.js' ? '755' : '644', `${rel} mode`)
    }

    const entry = path.join(options.prefix, 'lib', 'av', 'bin', 'run.js')
    // Keychain mode's launcher: its CommonJS entry (main/run-entry.ts), without NODE_EXTRA_CA_CERTS.
    const runEntry = path.join(options.prefix, 'lib', 'av', 'dist', 'lib', 'main', 'run-entry.cjs')
    assert.equal(
      readFileSync(path.join(options.prefix, 'bin', 'aws'), 'utf8'),
      `#!/bin/sh\n# Written by \`sudo av install\`; removed by \`sudo av uninstall\`.\nexec /usr/bin/env -u NODE_EXTRA_CA_CERTS /usr/bin/node ${runEntry} run -- aws "$@"\n`,
    )
    assert.match(
      readFileSync(path.join(options.binDir, 'av'), 'utf8'),
      new RegExp(`\\nexec /usr/bin/node ${entry} "\\$@"\\n$`),
    )
    // `av run -- aws …` takes the aws shim's path.
    assert.ok(
      readFileSync(path.join(options.binDir, 'av'), 'utf8').includes(
        `if [ "$1" = run ] && [ "$2" = -- ] && [ "$3" = aws ]; then\n  exec /usr/bin/env -u NODE_EXTRA_CA_CERTS /usr/bin/node ${runEntry} "$@"\nfi\n`,
      ),
    )
    assert.equal(statSync(path.join(options.binDir, 'av')).mode & 0o7777, 0o755)
    assert.equal(readlinkSync(path.join(options.binDir, 'aws')), path.join(options.prefix, 'bin', 'aws'))
    assert.deepEqual(JSON.parse(readFileSync(options.policyFile, 'utf8')), {
      awsCli: RUNTIME.argv,
      endpoints: ['http://127.0.0.1:*'],
      sts: {endpoint: 'http://127.0.0.1:1'},
    })
  })

  it('is idempotent: a second install writes the same bytes', () => {
    const first = snapshot(root)
    installAv(options, deps())
    assert.deepEqual(snapshot(root), first)
  })

  it('installs again from the installed copy (sudo av install run by the installed av)', () => {
    const first = snapshot(root)
    installAv(options, {...deps(), source: path.join(options.prefix, 'lib', 'av')})
    assert.deepEqual(snapshot(root), first)
  })

  it('refuses a source tree built without the launcher and helper entries, and writes nothing', () => {
    const entry = path.join(source, 'dist', 'lib', 'main', 'helper-entry.cjs')
    const text = readFileSync(entry, 'utf8')
    const fresh = {binDir: path.join(root, 'unbuilt-bin'), prefix: path.join(root, 'unbuilt-prefix')}
    rmSync(entry)
    try {
      assert.throws(() => installAv({...options, ...fresh}, deps()), {
        code: 'not-found',
        message: /helper-entry\.cjs is missing: this is not a built av/,
      })
      assert.deepEqual([existsSync(fresh.prefix), existsSync(fresh.binDir)], [false, false])
    } finally {
      writeFileSync(entry, text)
    }
  })

  it('refuses to replace a file it did not write', () => {
    const foreign = path.join(root, 'foreign-bin')
    mkdirSync(foreign)
    writeFileSync(path.join(foreign, 'aws'), '#!/bin/sh\necho another aws\n')
    assert.throws(() => installAv({...options, binDir: foreign}, deps()), {
      code: 'conflict',
      message: /aws exists and was not written by av/,
    })
    assert.equal(readFileSync(path.join(foreign, 'aws'), 'utf8'), '#!/bin/sh\necho another aws\n')
    rmSync(foreign, {recursive: true})
  })

  it('refuses a directory others can write, and a node that is not root-controlled', () => {
    const open = path.join(root, 'open')
    mkdirSync(open)
    chmodSync(open, 0o777)
    assert.throws(() => installAv({...options, binDir: open}, deps()), {
      code: 'refused',
      message: /writable by group or others/,
    })
    assert.throws(
      () => installAv({...options}, {...deps(), node: path.join(open, 'node')}),
      (error: AvError) => error.exit === EXIT.refused && /node at .* is not root-controlled/.test(error.message),
    )
    rmSync(open, {recursive: true})
  })

  it('uninstall removes exactly what install wrote and puts the policy bytes back', () => {
    const result = uninstallAv({prefix: options.prefix}, {uid: 0})
    assert.deepEqual(result.kept, [])
    assert.deepEqual(result.restored, [options.policyFile])
    assert.deepEqual(snapshot(root), beforeInstall)
  })

  it('uninstall keeps policy edits made since install, changing only awsCli back', () => {
    installAv(options, deps())
    const edited = {...JSON.parse(readFileSync(options.policyFile, 'utf8')), decisions: {'signed-url': 'deny'}}
    writeFileSync(options.policyFile, JSON.stringify(edited))
    uninstallAv({prefix: options.prefix}, {uid: 0})
    assert.deepEqual(JSON.parse(readFileSync(options.policyFile, 'utf8')), {...edited, awsCli: ['/usr/bin/old-aws']})
    assert.deepEqual(Object.keys(snapshot(root)).sort(), Object.keys(beforeInstall).sort(), 'nothing else left behind')
  })

  it('refuses when not root, before touching anything (bin/run.js as nobody)', () => {
    const prefix = path.join(root, 'nobody-prefix')
    for (const args of [
      ['install', '--prefix', prefix],
      ['uninstall', '--prefix', prefix],
    ]) {
      const run = spawnSync(
        'setpriv',
        [
          '--reuid=65534',
          '--regid=65534',
          '--clear-groups',
          process.execPath,
          path.join(REPO, 'bin', 'run.js'),
          ...args,
        ],
        {
          cwd: '/',
          encoding: 'utf8',
          env: {PATH: '/usr/bin:/bin'},
        },
      )
      assert.equal(run.status, EXIT.refused, run.stderr)
      assert.match(run.stderr, new RegExp(`av ${args[0]} changes root-owned files and must run as root`))
      assert.equal(existsSync(prefix), false)
    }
  })
})

describe('av install --custody refusals (nothing reaches /etc/sudoers.d)', () => {
  let root: string
  let source: string
  const sudoersFile = `/etc/sudoers.d/av-custody-unit-${process.pid}`
  const deps = (checkSudoers = (_file: string) => ({ok: true, output: ''})) => ({
    checkSudoers,
    findRuntime: () => RUNTIME,
    node: '/usr/bin/node',
    source,
    uid: 0,
  })
  const options = (over: Partial<InstallOptions> = {}): InstallOptions => ({
    binDir: path.join(root, 'bin'),
    custody: {dir: path.join(root, 'custody'), runDir: path.join(root, 'run-av'), sudoersFile},
    linkAws: false,
    policyFile: path.join(root, 'etc', 'policy.json'),
    prefix: path.join(root, 'opt', 'av'),
    ...over,
  })

  before(() => {
    root = mkdtempSync('/tmp/av-install-custody-test-')
    chmodSync(root, 0o755)
    source = fakeBuiltAv(root)
    mkdirSync(path.join(root, 'etc'))
    writeFileSync(path.join(root, 'etc', 'policy.json'), '{}\n')
  })

  after(() => rmSync(root, {force: true, recursive: true}))

  const TABLE: Array<[string, () => unknown, RegExp]> = [
    [
      'a drop-in outside /etc/sudoers.d',
      () => installAv(options({custody: {dir: path.join(root, 'custody'), sudoersFile: path.join(root, 'x')}}), deps()),
      /the sudoers drop-in must be \/etc\/sudoers.d\/<name>/,
    ],
    [
      'a drop-in name with a dot (sudo would skip it)',
      () =>
        installAv(
          options({custody: {dir: path.join(root, 'custody'), sudoersFile: '/etc/sudoers.d/av.custody'}}),
          deps(),
        ),
      /letters, digits, - and _ only/,
    ],
    [
      'a prefix sudoers would need escaped',
      () => installAv(options({prefix: path.join(root, 'my av')}), deps()),
      /holds characters sudoers would need escaped/,
    ],
    [
      'custody on macOS (no /proc to check sudo’s caller)',
      () => installAv(options(), {...deps(), platform: 'darwin'}),
      /custody mode needs Linux \(it checks sudo's caller through \/proc\), not darwin/,
    ],
    [
      'a drop-in visudo rejects',
      () =>
        installAv(
          options(),
          deps(() => ({ok: false, output: 'syntax error near line 2'})),
        ),
      /visudo rejected the custody drop-in: syntax error near line 2/,
    ],
  ]
  for (const [name, run, message] of TABLE) {
    it(`refuses ${name}`, () => {
      assert.throws(run, (error: unknown) => error instanceof AvError && message.test(error.message))
      assert.equal(existsSync(sudoersFile), false)
      assert.equal(readFileSync(path.join(root, 'etc', 'policy.json'), 'utf8'), '{}\n')
    })
  }

  it('refuses to install over an entry point a user owns (tampered)', () => {
    const entry = path.join(root, 'opt', 'av', 'libexec', 'av-custody')
    mkdirSync(path.dirname(entry), {recursive: true})
    writeFileSync(entry, '#!/bin/sh\n', {mode: 0o755})
    spawnSync('chown', ['1000', entry])
    assert.throws(
      () => installAv(options(), deps()),
      (error: unknown) => error instanceof AvError && /was tampered with: .* owned by uid 1000/.test(error.message),
    )
    assert.equal(existsSync(sudoersFile), false)
  })
})

function uninstall(prefix: string): void {
  const run = spawnSync(process.execPath, [path.join(REPO, 'bin', 'run.js'), 'uninstall', '--prefix', prefix], {
    encoding: 'utf8',
  })
  assert.equal(run.status, 0, run.stderr)
}

describe('av install picks the mode: custody by default on Linux, keychain with --keychain', () => {
  let root: string

  before(() => {
    root = mkdtempSync('/tmp/av-install-mode-test-')
    chmodSync(root, 0o755)
  })

  after(() => rmSync(root, {force: true, recursive: true}))

  /** The real `av install` (bin/run.js, as root) into temp dirs; returns its output and the policy it wrote. */
  function install(name: string, flags: string[]): {policy: Record<string, unknown>; prefix: string; stdout: string} {
    const dir = path.join(root, name)
    mkdirSync(path.join(dir, 'etc'), {recursive: true})
    const policyFile = path.join(dir, 'etc', 'policy.json')
    writeFileSync(policyFile, JSON.stringify({awsCli: ['/usr/bin/python3', '-I', '/usr/bin/aws']}), {mode: 0o644})
    const prefix = path.join(dir, 'opt')
    const run = spawnSync(
      process.execPath,
      [
        path.join(REPO, 'bin', 'run.js'),
        'install',
        '--prefix',
        prefix,
        '--bin-dir',
        path.join(dir, 'bin'),
        '--policy',
        policyFile,
        '--custody-dir',
        path.join(dir, 'custody'),
        '--run-dir',
        path.join(dir, 'run'),
        '--sudoers-file',
        `/etc/sudoers.d/av-mode-test-${process.pid}-${name}`,
        ...flags,
      ],
      {encoding: 'utf8', env: {...process.env, AV_POLICY: policyFile}},
    )
    assert.equal(run.status, 0, run.stderr)
    return {policy: JSON.parse(readFileSync(policyFile, 'utf8')) as Record<string, unknown>, prefix, stdout: run.stdout}
  }

  it('no flag: custody (the root launcher, the entry points, the execute-only interpreter) and the custody line', () => {
    const {policy, prefix, stdout} = install('default', [])
    try {
      const custody = policy.custody as Record<string, unknown>
      assert.equal(custody.launch, path.join(prefix, 'libexec', 'av-launch'))
      assert.deepEqual(custody.awsCli, [path.join(prefix, 'libexec', 'aws-python3'), '-I', '/usr/bin/aws'])
      assert.match(stdout, /^mode: custody: your keys are root-owned, root runs the aws launcher/m)
      const shim = readFileSync(path.join(prefix, 'bin', 'aws'), 'utf8')
      assert.match(shim, new RegExp(`exec /usr/bin/sudo -n ${custody.launch as string} aws "\\$@"`))
    } finally {
      uninstall(prefix)
    }

    assert.equal(existsSync(prefix), false)
    assert.equal(existsSync(`/etc/sudoers.d/av-mode-test-${process.pid}-default`), false)
  })

  it('--keychain: no custody, and the plain line that an agent can read the keys', () => {
    const {policy, prefix, stdout} = install('keychain', ['--keychain'])
    try {
      assert.equal(policy.custody, undefined)
      assert.match(stdout, /^mode: keychain: an agent running as you can read the keys in your keychain/m)
      assert.match(
        readFileSync(path.join(prefix, 'bin', 'aws'), 'utf8'),
        /dist\/lib\/main\/run-entry\.cjs' run -- aws|dist\/lib\/main\/run-entry\.cjs run -- aws/,
      )
    } finally {
      uninstall(prefix)
    }
  })
})

/** Every path the manifest names (files, directories, the tree, custody's store, the manifest itself). */
function manifestPaths(prefix: string): string[] {
  const file = path.join(prefix, 'install-manifest.json')
  const manifest = JSON.parse(readFileSync(file, 'utf8'))
  return [
    file,
    manifest.tree,
    ...manifest.files.map((f: {path: string}) => f.path),
    ...manifest.dirs,
    ...(manifest.custody ? [manifest.custody.dir, manifest.custody.entry, manifest.custody.sudoersFile] : []),
  ]
}

describe('install → uninstall leaves no path behind (keychain and custody)', () => {
  // A custody install writes a real sudoers rule naming its entry point: keep the tree in a root-only parent (not
  // /tmp, where any user could recreate the path if the rule outlived the test).
  const parent = '/var/lib/av-e2e'
  const sudoersFile = `/etc/sudoers.d/av-custody-unit-leftover-${process.pid}`
  const world = {
    env: {},
    exists: () => false,
    importer: '/nonexistent',
    pid: 1,
    pids: () => [],
    table: {environ: () => null, snapshot: () => null},
  }
  let root: string
  let source: string
  let beforeInstall: Record<string, string>
  const deps = () => ({
    checkSudoers: () => ({ok: true, output: ''}),
    findRuntime: () => RUNTIME,
    node: '/usr/bin/node',
    source,
    uid: 0,
  })
  const options = (custody: boolean): InstallOptions => ({
    binDir: path.join(root, 'usr-local-bin'),
    ...(custody
      ? {custody: {dir: path.join(root, 'var-lib-av', 'custody'), runDir: path.join(root, 'run-av'), sudoersFile}}
      : {}),
    linkAws: true,
    policyFile: path.join(root, 'etc', 'av', 'policy.json'),
    prefix: path.join(root, 'opt', 'av'),
  })

  before(() => {
    mkdirSync(parent, {mode: 0o755, recursive: true})
    chmodSync(parent, 0o755)
    root = mkdtempSync(path.join(parent, 'install-leftover-'))
    chmodSync(root, 0o755)
    source = fakeBuiltAv(root)
    beforeInstall = snapshot(root)
  })

  after(() => {
    rmSync(sudoersFile, {force: true})
    rmSync(root, {force: true, recursive: true})
  })

  for (const custody of [false, true]) {
    it(`${custody ? 'custody' : 'keychain'}: every path of the manifest is gone, and every directory install made`, () => {
      installAv(options(custody), deps())
      const named = manifestPaths(options(custody).prefix)
      assert.ok(
        named.some((p) => p.endsWith(custody ? '/libexec' : '/opt/av/lib')),
        named.join(' '),
      )
      const result = uninstallAv({prefix: options(custody).prefix}, {returnWorld: world, uid: 0})
      assert.deepEqual(result.kept, [])
      assert.deepEqual(
        named.filter((p) => existsSync(p)),
        [],
      )
      assert.deepEqual(snapshot(root), beforeInstall)
    })
  }

  it('custody, after an install that was refused part-way: the directories that one made go too', () => {
    // A drop-in av did not write: install refuses, having made the prefix, its lib/bin/libexec and custody's dir.
    writeFileSync(sudoersFile, '# not av\n', {mode: 0o440})
    assert.throws(() => installAv(options(true), deps()), /exists and was not written by av install/)
    rmSync(sudoersFile)
    // The refused attempt took back every directory it had made.
    assert.deepEqual(snapshot(root), beforeInstall)
    installAv(options(true), deps())
    const result = uninstallAv({prefix: options(true).prefix}, {returnWorld: world, uid: 0})
    assert.deepEqual(result.kept, [])
    // The prefix's own directories (libexec, lib, bin) and the prefix go, and so does everything outside it.
    assert.equal(existsSync(options(true).prefix), false, 'an empty opt/av/libexec (or opt/av) was left behind')
    assert.deepEqual(snapshot(root), beforeInstall)
    assert.equal(existsSync(sudoersFile), false)
  })
})
