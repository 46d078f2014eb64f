// The CLI interpreter that imports while root decides (run/prewarm.ts): which runtimes get one, and what the
// waiting program does with the one line root sends it — run the script as `python3 -I <script> <args>` would, with
// root's environment — or, with nothing sent, run nothing at all. The program runs in the machine's real Python.
import assert from 'node:assert/strict'
import {spawn, spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'

import {PREWARM_PYTHON, prewarmArgv, runtimeOfPrewarm} from '../../../src/lib/run/prewarm.js'

const PYTHON = '/usr/bin/python3'
const base = mkdtempSync(path.join(tmpdir(), 'av-prewarm-'))

describe('prewarmArgv', () => {
  const cases: Array<[string, string[], null | string[]]> = [
    [
      'the custody copy',
      ['/opt/av/libexec/aws-python3', '-I', '/usr/bin/aws'],
      ['/opt/av/libexec/aws-python3', '-I', '-c', PREWARM_PYTHON, '/usr/bin/aws'],
    ],
    [
      'python3.11 with two flags',
      ['/usr/bin/python3.11', '-I', '-B', '/usr/bin/aws'],
      ['/usr/bin/python3.11', '-I', '-B', '-c', PREWARM_PYTHON, '/usr/bin/aws'],
    ],
    ['no -I (cwd and PYTHON* would count)', ['/usr/bin/python3', '/usr/bin/aws'], null],
    ['a frozen aws binary', ['/usr/local/bin/aws'], null],
    ['a relative script', ['/usr/bin/python3', '-I', 'aws'], null],
    ['a -c program of its own', ['/usr/bin/python3', '-Ic', '/usr/bin/aws'], null],
    ['an option with a value', ['/usr/bin/python3', '-I', '-X', 'dev', '/usr/bin/aws'], null],
    ['not Python', ['/usr/bin/node', '-I', '/usr/bin/aws'], null],
  ]
  for (const [name, runtime, expected] of cases) {
    it(`${name} → ${expected ? 'waits' : 'none'}`, () => {
      assert.deepEqual(prewarmArgv(runtime), expected)
      if (expected) assert.deepEqual(runtimeOfPrewarm(expected), runtime)
    })
  }

  it('the user’s arguments follow the script, as `ps` shows a CLI run; the runtime is read back without them', () => {
    const argv = prewarmArgv(['/usr/bin/python3', '-I', '/usr/bin/aws'], ['s3', 'ls', '--profile', 'dev'])!
    assert.deepEqual(argv.slice(-5), ['/usr/bin/aws', 's3', 'ls', '--profile', 'dev'])
    assert.deepEqual(runtimeOfPrewarm(argv), ['/usr/bin/python3', '-I', '/usr/bin/aws'])
  })

  it('runtimeOfPrewarm knows only this version’s program', () => {
    assert.equal(runtimeOfPrewarm(['/usr/bin/python3', '-I', '-c', 'import os', '/usr/bin/aws']), null)
    assert.equal(runtimeOfPrewarm(['/usr/bin/python3', '-I', '/usr/bin/aws']), null)
  })
})

/** A stand-in for the CLI's script: prints its argv and environment, leaves a marker, exits 7. */
const script = path.join(base, 'fake-aws')
const marker = path.join(base, 'ran')
writeFileSync(
  script,
  [
    'import json, os, signal, sys',
    `open(${JSON.stringify(marker)}, "w").write("ran")`,
    'print(json.dumps({"argv": sys.argv, "path0": sys.path[0], "env": dict(os.environ),',
    '  "sigint": signal.getsignal(signal.SIGINT) is signal.default_int_handler}))',
    'sys.exit(7)',
    '',
  ].join('\n'),
)

function startWaiting(
  args: string[] = [],
  fd3 = true,
): {done: Promise<{code: null | number; stdout: string}>; fd3: NodeJS.WritableStream} {
  const argv = prewarmArgv([PYTHON, '-I', script], args)!
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: base,
    env: {LANG: 'C.UTF-8', PATH: '/usr/bin:/bin', START_ONLY: 'gone at hand-over'},
    stdio: ['ignore', 'pipe', 'inherit', fd3 ? 'pipe' : 'ignore'],
  })
  let stdout = ''
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    stdout += d
  })
  const done = new Promise<{code: null | number; stdout: string}>((resolve) => {
    child.on('close', (code) => resolve({code, stdout}))
  })
  return {done, fd3: child.stdio[3] as NodeJS.WritableStream}
}

describe('the waiting program (real Python: scripts/install-deps.sh installs python3)', () => {
  after(() => rmSync(base, {force: true, recursive: true}))

  it('runs the script with the argv and environment root sent, as __main__, with its exit code', async () => {
    rmSync(marker, {force: true})
    const w = startWaiting()
    const env = {AWS_PROFILE: 'dev', HOME: '/run/av/home', LANG: 'C.UTF-8', PATH: '/usr/bin'}
    // Sent in two writes: the program reads until the line's end.
    const line = JSON.stringify({argv: [script, 'sts', 'get-caller-identity'], env}) + '\n'
    w.fd3.write(line.slice(0, 20))
    setTimeout(() => w.fd3.end(line.slice(20)), 50)
    const {code, stdout} = await w.done
    assert.equal(code, 7)
    const seen = JSON.parse(stdout) as {argv: string[]; env: Record<string, string>; path0: string; sigint: boolean}
    assert.deepEqual(seen.argv, [script, 'sts', 'get-caller-identity'])
    // Root's environment, not the start-up one; what the CLI's own imports set stays (awscli: AWS_DATA_PATH).
    const {AWS_DATA_PATH: dataPath, ...rest} = seen.env
    assert.deepEqual(rest, env)
    if (dataPath !== undefined) assert.match(dataPath, /awscli/)
    // -I: neither the script's directory nor the working directory is on sys.path.
    assert.notEqual(seen.path0, base)
    assert.notEqual(seen.path0, '')
    assert.equal(seen.sigint, true)
  })

  it('started by hand, with no fd 3, it is the script with the arguments it was given', async () => {
    rmSync(marker, {force: true})
    const {code, stdout} = await startWaiting(['s3', 'ls'], false).done
    assert.equal(code, 7)
    const seen = JSON.parse(stdout) as {argv: string[]; env: Record<string, string>}
    assert.deepEqual(seen.argv, [script, 's3', 'ls'])
    assert.equal(seen.env.START_ONLY, 'gone at hand-over')
  })

  it('with nothing sent before its launcher goes (end of file), it runs nothing and exits 125', async () => {
    rmSync(marker, {force: true})
    const w = startWaiting()
    w.fd3.end()
    const {code, stdout} = await w.done
    assert.deepEqual([code, stdout, existsSync(marker)], [125, '', false])
  })
})

/** A shell starts `child` in the background, then becomes Node, which adopts it and prints what it saw. */
function adopt(child: string, action = ''): {code: null | number; signal: null | string; stdout: string} {
  const program = [
    `const {AdoptedChild} = await import(${JSON.stringify(path.resolve('src/lib/custody/adopted-child.ts'))})`,
    'const pid = Number(process.argv[1])',
    'const adopted = AdoptedChild.of(pid)',
    'if (process.argv[2] === "kill") adopted.kill("SIGTERM")',
    'adopted.once("exit", (code, signal) => console.log(JSON.stringify({code, signal, other: AdoptedChild.of(1)})))',
  ].join('\n')
  const r = spawnSync(
    '/bin/sh',
    [
      '-c',
      `${child} & exec "$0" --import tsx --input-type=module -e "$1" "$!" "$2"`,
      process.execPath,
      program,
      action,
    ],
    {cwd: path.resolve('.'), encoding: 'utf8', timeout: 20_000},
  )
  return JSON.parse(r.stdout || '{}')
}

describe('AdoptedChild', () => {
  it('reports a child the shell started: its exit code, or the signal that ended it', () => {
    assert.deepEqual(adopt('sleep 0.3; exit 7'), {code: 7, other: null, signal: null})
    assert.deepEqual(adopt('exit 3'), {code: 3, other: null, signal: null})
  })

  it('passes a signal on to it (the relay does, for Ctrl-C or a TERM to the launcher)', () => {
    assert.deepEqual(adopt('exec sleep 5', 'kill'), {code: null, other: null, signal: 'SIGTERM'})
  })
})
