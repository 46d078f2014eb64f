#!/usr/bin/env node
// Benchmark of av's launcher against the plain AWS CLI, in one run, against one local SigV4 endpoint, as the
// unprivileged e2e test user inside its keyring session (root runs this; see test/e2e/support):
//   plain   /usr/bin/python3 -I /usr/bin/aws sts get-caller-identity, plaintext canary keys in a temp HOME
//   av run  node <installed av> run -- aws sts get-caller-identity   (migrated canary keys, helper, keychain)
//   shim    <prefix>/bin/aws sts get-caller-identity                  (the installed launcher)
//   helper  node <installed av> credential-helper aws (refusal path: no token) vs node -e 0
// Prints medians and ratios (targets, not asserted: launcher <= 1.15x plain aws, helper <= 1.25x node -e 0).
// Uses hyperfine when installed (apt-get install hyperfine), else (or with --harness) a Node harness
// that interleaves the commands, which holds up better when the machine is loaded.
// Usage: node bench/launcher-e2e-bench.mjs [runs] [--harness]
import {spawn, spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import path from 'node:path'
import {register} from 'tsx/esm/api'

register()
const {startAvWorld} = await import('../test/e2e/support/av-fixture.ts')
const {AWS_CLI} = await import('../test/e2e/support/install.ts')

const forceHarness = process.argv.includes('--harness')
const runs = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 10)

const shellQuote = (s) => (/^[\w./:=@%+,-]+$/.test(s) ? s : `'${s.replaceAll("'", String.raw`'\''`)}'`)

function asUser(world, env, argv) {
  const {user} = world.sandbox
  const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`)
  return ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups', 'env', '-i', ...vars, ...argv]
    .map((a) => shellQuote(a))
    .join(' ')
}

function run(argv) {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), {stdio: ['ignore', 'pipe', 'pipe']})
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => {
      out += d
    })
    child.stderr.on('data', (d) => {
      err += d
    })
    child.on('close', (code) => resolve({code, err, out}))
  })
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

async function hyperfine(commands, exitCodes) {
  const file = path.join(mkdtempSync('/tmp/av-bench-'), 'hf.json')
  const args = ['--warmup', '2', '--runs', String(runs), '--export-json', file, '--style', 'basic']
  for (const [name, command] of Object.entries(commands)) {
    args.push('--command-name', name, exitCodes[name] === 0 ? command : `${command}; true`)
  }

  const r = await run(['hyperfine', ...args])
  if (r.code !== 0) throw new Error(`hyperfine failed: ${r.err}`)
  const json = JSON.parse(readFileSync(file, 'utf8'))
  rmSync(path.dirname(file), {force: true, recursive: true})
  return Object.fromEntries(json.results.map((x) => [x.command, x.median * 1000]))
}

async function harness(commands) {
  const times = Object.fromEntries(Object.keys(commands).map((k) => [k, []]))
  for (let i = 0; i < runs + 2; i++) {
    // Interleaved so that load from elsewhere on the machine hits every command alike.
    for (const [name, command] of Object.entries(commands)) {
      const t = process.hrtime.bigint()
      // eslint-disable-next-line no-await-in-loop
      await run(['/bin/sh', '-c', command])
      if (i >= 2) times[name].push(Number(process.hrtime.bigint() - t) / 1e6)
    }
  }

  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]))
}

const world = await startAvWorld({keySuffix: 'BNCH'})
try {
  const {endpoint, install, key, sandbox} = world
  const {url} = endpoint
  const extra = process.env.NODE_EXTRA_CA_CERTS ? {NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS} : {}
  const plainHome = sandbox.userDir('plain-home')
  world.writeUserFile(
    '../plain-home/.aws/credentials',
    `[default]\naws_access_key_id = ${key.accessKeyId}\naws_secret_access_key = ${key.secretAccessKey}\n`,
  )
  world.writeUserFile('../plain-home/.aws/config', '[default]\nregion = eu-west-1\noutput = json\n')
  const userEnv = {...sandbox.env, ...install.env, ...extra}
  const sts = ['sts', 'get-caller-identity', '--endpoint-url', url]
  const commands = {
    'plain aws': asUser(world, {...userEnv, HOME: plainHome}, [...AWS_CLI, ...sts]),
    'av run -- aws': asUser(world, userEnv, [process.execPath, install.av, 'run', '--', 'aws', ...sts]),
    'installed aws launcher': asUser(world, userEnv, [install.aws, ...sts]),
    'node -e 0': asUser(world, userEnv, [process.execPath, '-e', '0']),
    'av credential-helper aws (refusal)': asUser(world, userEnv, [
      process.execPath,
      install.av,
      'credential-helper',
      'aws',
      '--profile',
      'default',
    ]),
  }
  const exitCodes = {}
  for (const [name, command] of Object.entries(commands)) {
    // eslint-disable-next-line no-await-in-loop
    const r = await run(['/bin/sh', '-c', command])
    exitCodes[name] = r.code
    const expected = name.includes('refusal') ? r.code !== 0 : r.code === 0
    if (!expected) throw new Error(`${name} exited ${r.code}: ${r.err}`)
    if (`${r.out}${r.err}`.includes('avCanarySecret')) throw new Error(`${name} printed a canary secret`)
  }

  const useHyperfine = !forceHarness && spawnSync('hyperfine', ['--version']).status === 0
  const medians = useHyperfine ? await hyperfine(commands, exitCodes) : await harness(commands)
  const requests = endpoint.requests.filter((r) => r.operation === 'GetCallerIdentity')
  const unverified = requests.filter((r) => !r.verified).length
  console.log(`\nav launcher bench (${useHyperfine ? 'hyperfine' : 'node harness'}, ${runs} runs each, medians)`)
  for (const [name, ms] of Object.entries(medians)) console.log(`  ${name.padEnd(36)} ${ms.toFixed(1).padStart(8)} ms`)
  const ratio = (a, b) => (medians[a] / medians[b]).toFixed(3)
  console.log(`  av run / plain aws                   ${ratio('av run -- aws', 'plain aws')}x   (target <= 1.15)`)
  console.log(
    `  launcher / plain aws                 ${ratio('installed aws launcher', 'plain aws')}x   (target <= 1.15)`,
  )
  console.log(
    `  helper (refusal) / node -e 0         ${ratio('av credential-helper aws (refusal)', 'node -e 0')}x   (target <= 1.25)`,
  )
  console.log(`  endpoint: ${requests.length} GetCallerIdentity requests, ${unverified} with a bad signature`)
} finally {
  await world.stop()
}
