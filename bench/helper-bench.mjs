#!/usr/bin/env node
// `av credential-helper aws` start-up against `node -e 0`, measured in the same run, interleaved (target for the
// note: helper ≤ 1.25× `node -e 0`). Needs `npm run build`. Prints medians in ms and ratios.
//
// Outside a keyring only the refusal path can run (no token: the helper refuses before touching the store).
// When dbus-run-session and gnome-keyring-daemon exist, the bench re-runs itself inside a throwaway keyring
// (temp HOME) and also measures: a well-formed token from a caller that is not the AWS CLI (every /proc, policy
// and trust check runs, then the refusal, before the store) and, separately, a cold store read of the two items
// a release reads (token key and key pair) in a fresh process. A full release needs the real launcher chain, so
// its cost is estimated as the checks plus the cold store read; the e2e suite exercises the real release.
import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
// What a keychain run's sealed config runs (main/helper-entry.ts), with this Node.
const helperEntry = path.join(root, 'dist', 'lib', 'main', 'helper-entry.cjs')
const runs = Number(process.env.AV_BENCH_RUNS ?? 25)
if (!existsSync(helperEntry)) {
  throw new Error('helper-bench: run `npm run build` first')
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

function timeOnce(args, env) {
  const start = process.hrtime.bigint()
  const result = spawnSync(process.execPath, args, {env, stdio: ['ignore', 'pipe', 'pipe']})
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  return {ms, result}
}

/** Interleave the cases so machine load hits them alike; returns median ms per case. */
function measure(cases) {
  const samples = cases.map(() => [])
  for (let i = 0; i < runs + 2; i++) {
    for (const [index, c] of cases.entries()) {
      const {ms, result} = timeOnce(c.args, c.env)
      if (c.expect && !c.expect(result)) {
        throw new Error(`helper-bench: ${c.name} did not behave as expected:\n${result.stderr}`)
      }

      if (i >= 2) samples[index].push(ms) // two warm-up rounds
    }
  }

  return cases.map((c, index) => ({median: median(samples[index]), name: c.name}))
}

function report(rows, baseline) {
  for (const row of rows) {
    const ratio = row.median / baseline
    console.log(`${row.name.padEnd(58)} ${row.median.toFixed(1).padStart(7)} ms  ${ratio.toFixed(2)}×`)
  }
}

const refusedWith = (reason) => (r) => r.status === 1 && r.stdout.length === 0 && r.stderr.includes(`(${reason})`)

async function inKeyring() {
  const {KeyringStore} = await import(path.join(root, 'dist', 'lib', 'store', 'secret-store.js'))
  const {encodeKeyPair} = await import(path.join(root, 'dist', 'lib', 'store', 'credentials.js'))
  const {hashArgv, loadTokenKey, mintToken} = await import(path.join(root, 'dist', 'lib', 'run', 'token.js'))
  const store = new KeyringStore()
  await store.probe()
  await loadTokenKey(store, {create: true})
  await store.set(
    'aws:p',
    encodeKeyPair({accessKeyId: 'AKIAAVCANARY0000BNCH', secretAccessKey: 'avCanarySecret/bench'}),
  )
  const forged = mintToken(Buffer.alloc(32, 9), {
    argvHash: hashArgv(['x']),
    configHash: hashArgv(['y']),
    expires: Date.now() + 3_600_000,
    issued: Date.now(),
    launcherPid: process.pid,
    launcherStart: '1',
    profile: 'p',
    v: 1,
  })
  const storeRead = [
    '--input-type=module',
    '-e',
    `const t = performance.now()
     const {KeyringStore} = await import(${JSON.stringify(path.join(root, 'dist', 'lib', 'store', 'secret-store.js'))})
     const s = new KeyringStore()
     await s.get('token-key'); await s.get('aws:p')
     process.stdout.write(String(performance.now() - t))`,
  ]
  const env = {...process.env}
  delete env.AV_RUN_TOKEN
  const rows = measure([
    {args: ['-e', '0'], env, name: 'node -e 0'},
    {
      args: [helperEntry, 'credential-helper', 'aws', '--profile', 'p'],
      env,
      expect: refusedWith('token-missing'),
      name: 'helper, no token (refusal before the store)',
    },
    {
      args: [helperEntry, 'credential-helper', 'aws', '--profile', 'p'],
      env: {...env, AV_RUN_TOKEN: forged},
      expect: refusedWith('parent-not-runtime'),
      name: 'helper, well-formed token (all /proc + trust checks)',
    },
  ])
  const inner = []
  for (let i = 0; i < runs; i++)
    inner.push(Number(spawnSync(process.execPath, storeRead, {encoding: 'utf8', env}).stdout))
  const base = rows[0].median
  report(rows, base)
  const read = median(inner)
  console.log(`${'cold store read of token key + key pair (in-process)'.padEnd(58)} ${read.toFixed(1).padStart(7)} ms`)
  const release = rows[2].median + read
  console.log(
    `${'estimated full release (checks + cold store read)'.padEnd(58)} ${release.toFixed(1).padStart(7)} ms  ${(release / base).toFixed(2)}×`,
  )
}

function outside(home) {
  // The helper audits refusals under HOME: keep them in the temp HOME.
  const env = {...process.env, HOME: home, XDG_STATE_HOME: path.join(home, 'state')}
  delete env.AV_RUN_TOKEN
  const rows = measure([
    {args: ['-e', '0'], env, name: 'node -e 0'},
    {
      args: [helperEntry, 'credential-helper', 'aws', '--profile', 'p'],
      env,
      expect: refusedWith('token-missing'),
      name: 'helper, no token (refusal before the store)',
    },
  ])
  report(rows, rows[0].median)
}

const has = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0
if (process.argv[2] === '--in-keyring') {
  await inKeyring()
} else {
  const home = mkdtempSync(path.join(tmpdir(), 'av-helper-bench-'))
  try {
    if (has('dbus-run-session') && has('gnome-keyring-daemon')) {
      const self = fileURLToPath(import.meta.url)
      const script = `echo -n pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null; exec "${process.execPath}" "${self}" --in-keyring`
      const result = spawnSync('dbus-run-session', ['--', 'sh', '-c', script], {
        env: {...process.env, HOME: home, XDG_STATE_HOME: path.join(home, 'state')},
        stdio: ['ignore', 'inherit', 'pipe'],
      })
      process.exitCode = result.status ?? 1
      if (result.status !== 0) console.error(result.stderr.toString())
    } else {
      console.log('(no dbus-run-session/gnome-keyring-daemon: refusal path only)')
      outside(home)
    }
  } finally {
    rmSync(home, {force: true, recursive: true})
  }
}
