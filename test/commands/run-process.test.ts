import assert from 'node:assert/strict'
import {spawn, spawnSync} from 'node:child_process'
import {chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import {fileURLToPath} from 'node:url'

const DRIVER = fileURLToPath(new URL('../fixtures/run-with-memory-store.ts', import.meta.url))
const REPO = fileURLToPath(new URL('../..', import.meta.url))

/** The launcher as a real process, with a root-owned policy naming a fake AWS CLI (a sh script). */
describe('av run as a process (fake AWS CLI, in-memory store)', () => {
  let root: string
  let env: NodeJS.ProcessEnv
  const runtimeDir = () => path.join(root, 'xdg-runtime')

  before(() => {
    root = mkdtempSync('/tmp/av-run-process-test-')
    chmodSync(root, 0o755)
    const fake = path.join(root, 'fake-aws.sh')
    writeFileSync(
      fake,
      [
        '#!/bin/sh',
        'case "$1" in',
        '  cat) exec cat ;;',
        '  exit) exit "$2" ;;',
        `  wait) trap 'exit 9' TERM; : > "$2"; while :; do sleep 0.05; done ;;`,
        'esac',
      ].join('\n'),
    )
    chmodSync(fake, 0o755)
    // The fake CLI's words (cat, exit, wait) are no AWS commands: the root-owned policy lets the unknown run, as
    // only root may (the gate itself is tested in test/unit/gate-*.test.ts).
    writeFileSync(
      path.join(root, 'policy.json'),
      JSON.stringify({awsCli: ['/bin/sh', fake], decisions: {unknown: 'allow'}}),
    )
    const home = path.join(root, 'home')
    mkdirSync(home)
    mkdirSync(runtimeDir(), {mode: 0o700})
    env = {
      AV_POLICY: path.join(root, 'policy.json'),
      AWS_SECRET_ACCESS_KEY: 'avCanarySecretPPPPPPPPPPPPPPPPPPPPPPPPPPP',
      HOME: home,
      NODE_OPTIONS: '--import tsx',
      PATH: process.env.PATH,
      XDG_RUNTIME_DIR: runtimeDir(),
    }
  })

  after(() => rmSync(root, {force: true, recursive: true}))

  it('passes binary stdin to stdout untouched and exits with the CLI’s code', () => {
    const bytes = Buffer.from(Array.from({length: 4096}, (_, i) => (i * 7) % 256))
    const run = spawnSync(process.execPath, [DRIVER, '--', 'aws', 'cat'], {cwd: REPO, env, input: bytes})
    assert.equal(run.status, 0, run.stderr.toString())
    assert.ok(run.stdout.equals(bytes), 'stdout bytes equal stdin bytes')
    assert.equal(run.stderr.toString(), '')
    const code = spawnSync(process.execPath, [DRIVER, '--', 'aws', 'exit', '42'], {cwd: REPO, env})
    assert.equal(code.status, 42)
    assert.deepEqual(readdirSync(runtimeDir()), [])
  })

  it('ignores SIGUSR1 (no inspector) and forwards SIGTERM, then removes the private HOME', async () => {
    const marker = path.join(root, 'ready')
    const child = spawn(process.execPath, [DRIVER, '--', 'aws', 'wait', marker], {cwd: REPO, env})
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    const exited = new Promise<null | number>((resolve) => {
      child.once('exit', (code) => resolve(code))
    })
    const deadline = Date.now() + 10_000
    while (!existsSync(marker) && Date.now() < deadline) {
      // eslint-disable-next-line no-await-in-loop -- polling for the fake CLI to be ready
      await new Promise((resolve) => {
        setTimeout(resolve, 25)
      })
    }

    assert.equal(readdirSync(runtimeDir()).length, 1, 'a private HOME exists during the run')
    child.kill('SIGUSR1')
    await new Promise((resolve) => {
      setTimeout(resolve, 300)
    })
    assert.equal(child.exitCode, null, 'still running after SIGUSR1')
    child.kill('SIGTERM')
    assert.equal(await exited, 9)
    assert.doesNotMatch(stderr, /Debugger listening|inspector/i)
    assert.doesNotMatch(stderr, /avCanarySecret/)
    assert.deepEqual(readdirSync(runtimeDir()), [])
  })
})
