#!/usr/bin/env node
// STS sessions: what a warm session cache costs. Run as root after `npm run build`:
//   node --import tsx bench/sessions-bench.mjs
// It starts the e2e keyring sandbox (unprivileged test user, real gnome-keyring), the local SigV4 endpoint (av's STS
// calls and the CLI's data plane) and a root-owned policy naming them, then measures, interleaved, medians in ms:
// 1. the helper's work in a fresh node process (its whole module graph, token-key read, the user's AWS config,
//    getSessionCredentials, an audit line, the document) — cache hit, durable key as before sessions, cache miss
//    (AWS SDK import + an STS call to the local endpoint) — against `node -e 0`;
// 2. `av run -- aws sts get-caller-identity` with a warm cache, and with the durable key as before sessions,
//    against plain `aws` with static keys in its environment.
// A full helper release needs the real launcher → CLI chain, which part 2 exercises; part 1 leaves out only the
// /proc checks (see bench/helper-bench.mjs for those). The cache-hit case fails if the AWS SDK got loaded.
import {chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {canaryKey} from '../test/e2e/support/canary.js'
import {startEndpoint} from '../test/e2e/support/sigv4-endpoint.js'
import {startKeyringSandbox} from '../test/e2e/support/user-sandbox.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const RUNS = Number(process.env.AV_BENCH_RUNS ?? 9)
const AWS = ['/usr/bin/python3', '-I', '/usr/bin/aws']
const DURABLE = canaryKey('BE4C')

if (!existsSync(path.join(ROOT, 'dist', 'lib', 'sessions', 'sessions.js')))
  throw new Error('sessions-bench: run `npm run build` first')
if (process.getuid?.() !== 0) throw new Error('sessions-bench: run as root (it uses the e2e test user sandbox)')

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

/** The helper's work for one profile in this fresh process; `mode` is hit, durable or miss. */
function helperWork(profile, mode) {
  const lib = (name) => JSON.stringify(path.join(ROOT, 'dist', 'lib', `${name}.js`))
  return `
const {createRequire} = await import('node:module')
await import(${lib('main/helper-main')})
const {KeyringStore} = await import(${lib('store/secret-store')})
const {getSessionCredentials, credentialProcessDocument} = await import(${lib('sessions/sessions')})
const {readAwsProfiles} = await import(${lib('aws/aws-profiles')})
const {loadPolicy} = await import(${lib('core/policy')})
const {FileAuditLog} = await import(${lib('audit/audit')})
const {stateDir} = await import(${lib('core/paths')})
const store = new KeyringStore()
if (!(await store.get('token-key'))) throw new Error('no token key')
${mode === 'miss' ? `await store.delete('session:${profile}')` : ''}
const {policy} = loadPolicy({env: process.env})
const profiles = readAwsProfiles(process.env.HOME + '/.aws/config')
const sts = ${
    mode === 'hit'
      ? `() => { throw new Error('the STS client was loaded on a cache hit') }`
      : `async () => (await import(${lib('aws/sts-client')})).sdkSts`
  }
const c = await getSessionCredentials(${JSON.stringify(profile)}, {clock: {now: () => Date.now()}, policy, profiles, store, sts})
if (c.kind !== ${JSON.stringify(mode === 'durable' ? 'durable' : 'session')} || c.cached !== ${mode === 'hit'}) throw new Error('unexpected ' + c.kind + ' ' + c.cached)
await new FileAuditLog(stateDir({env: process.env, home: process.env.HOME, platform: process.platform})).record({event: 'release', credentials: c.kind, cached: c.cached})
const sdk = Object.keys(createRequire(${JSON.stringify(path.join(ROOT, 'package.json'))}).cache).some((k) => k.includes('@aws-sdk'))
if (${mode === 'hit'} && sdk) throw new Error('the AWS SDK was loaded on a cache hit')
process.stdout.write(JSON.stringify(credentialProcessDocument(c)).length + (sdk ? ' sdk' : ''))
`
}

/** Run a group's cases interleaved (one warm-up round), then print medians and ratios to its baseline. */
async function measure(group, env) {
  const samples = group.cases.map(() => [])
  for (let i = 0; i < group.runs + 1; i++) {
    for (const [index, c] of group.cases.entries()) {
      // eslint-disable-next-line no-await-in-loop -- one measured process at a time
      const r = await sandbox.run(c.argv, {env: c.env ?? env})
      if (r.code !== 0) throw new Error(`${c.name} failed (${r.code}): ${r.stderr}`)
      if (r.stdout.includes('avCanarySecret')) throw new Error(`${c.name} printed the durable canary`)
      if (i > 0) samples[index].push(r.ms)
    }
  }

  const medians = group.cases.map((c, index) => ({median: median(samples[index]), name: c.name}))
  const base = medians.find((m) => m.name === group.baseline).median
  console.log(`\n${group.runs} runs each, interleaved; ratio to "${group.baseline}"`)
  for (const m of medians) {
    console.log(`${m.name.padEnd(50)} ${m.median.toFixed(1).padStart(8)} ms  ${(m.median / base).toFixed(2)}×`)
  }
}

const endpoint = await startEndpoint({credentials: [DURABLE], sessionSecretPrefix: 'avCanarySessionSecret'})
const sandbox = await startKeyringSandbox()
const policyDir = mkdtempSync('/tmp/av-sessions-bench-')
try {
  chmodSync(policyDir, 0o755)
  const policyFile = path.join(policyDir, 'policy.json')
  const policy = {endpoints: ['http://127.0.0.1:*'], sessions: {allowOptOut: true}, sts: {endpoint: endpoint.url}}
  writeFileSync(policyFile, JSON.stringify(policy), {mode: 0o644})
  const env = {AV_POLICY: policyFile}
  const config = ['dev', 'miss', 'before']
    .map((p) => `[profile ${p}]\nregion = us-east-1\n${p === 'before' ? 'av_session = off\n' : ''}`)
    .join('')
  writeFileSync(path.join(sandbox.home, '.aws-config'), config)
  await sandbox.sh('mkdir -p ~/.aws && cp ~/.aws-config ~/.aws/config')
  const pair = JSON.stringify(JSON.stringify({v: 1, ...DURABLE}))
  const setup = await sandbox.run([
    process.execPath,
    '--input-type=module',
    '-e',
    `const {KeyringStore} = await import(${JSON.stringify(path.join(ROOT, 'dist/lib/store/secret-store.js'))})
     const {loadTokenKey} = await import(${JSON.stringify(path.join(ROOT, 'dist/lib/run/token.js'))})
     const s = new KeyringStore(); await loadTokenKey(s, {create: true})
     for (const p of ['dev', 'miss', 'before']) await s.set('aws:' + p, ${pair})`,
  ])
  if (setup.code !== 0) throw new Error(`setup failed: ${setup.stderr}`)
  const node = (script) => [process.execPath, '--input-type=module', '-e', script]
  const callerIdentity = ['sts', 'get-caller-identity', '--endpoint-url', endpoint.url, '--output', 'json']
  const plainEnv = {
    ...env,
    AWS_ACCESS_KEY_ID: DURABLE.accessKeyId,
    AWS_CONFIG_FILE: '/dev/null',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_SECRET_ACCESS_KEY: DURABLE.secretAccessKey,
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  }
  const groups = [
    {
      baseline: 'node -e 0',
      cases: [
        {argv: [process.execPath, '-e', '0'], name: 'node -e 0'},
        {argv: node(helperWork('dev', 'hit')), name: 'helper work: session from the cache'},
        {argv: node(helperWork('before', 'durable')), name: 'helper work: durable key (as before sessions)'},
        {argv: node(helperWork('miss', 'miss')), name: 'helper work: cache miss (SDK + STS call)'},
      ],
      runs: RUNS * 2,
    },
    {
      baseline: 'aws, static keys in env (plain)',
      cases: [
        {argv: [...AWS, ...callerIdentity], env: plainEnv, name: 'aws, static keys in env (plain)'},
        {
          argv: [
            process.execPath,
            path.join(ROOT, 'bin/run.js'),
            'run',
            '--',
            'aws',
            ...callerIdentity,
            '--profile',
            'dev',
          ],
          name: 'av run, warm session cache',
        },
        {
          argv: [
            process.execPath,
            path.join(ROOT, 'bin/run.js'),
            'run',
            '--',
            'aws',
            ...callerIdentity,
            '--profile',
            'before',
          ],
          name: 'av run, durable key (as before sessions)',
        },
      ],
      runs: RUNS,
    },
  ]

  // Warm the session cache of `dev` once (a miss), so every measured `dev` run is a hit.
  const warm = await sandbox.run(node(helperWork('dev', 'miss')), {env})
  if (warm.code !== 0) throw new Error(`warm-up failed: ${warm.stderr}`)

  for (const group of groups) {
    // eslint-disable-next-line no-await-in-loop -- groups run one after another
    await measure(group, env)
  }

  const sts = endpoint.requests.filter((r) => r.operation === 'GetSessionToken').length
  console.log(`\nGetSessionToken calls: ${sts} (warm-up + one per cache-miss run; none from warm runs)`)
} finally {
  await sandbox.stop()
  await endpoint.stop()
  rmSync(policyDir, {force: true, recursive: true})
}
