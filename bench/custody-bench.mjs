#!/usr/bin/env node
// Custody mode: what the sudo hops cost. Run as root after `npm run build`:
//   node --import tsx bench/custody-bench.mjs
// It installs av root-owned with --custody into temp dirs (a sudoers drop-in with a unique name in /etc/sudoers.d,
// removed at the end), starts the e2e keyring sandbox (unprivileged test user) and the local SigV4 endpoint, puts
// the canary key both in custody (`sudo -n <entry> store`) and in the user's keychain, and measures, interleaved,
// medians in ms:
// 1. one sudo hop: `sudo -n <entry> release` refused at its first check (sudo + root node + av's module graph +
//    /proc checks), the keychain-mode helper refused the same way (node + module graph + /proc), `node -e 0`;
// 2. `av run -- aws sts get-caller-identity` with a warm session cache in custody mode (two hops: mint, release)
//    and in keychain mode (same install, a root-owned policy without `custody`), and plain `aws` with static keys.
// The helper's own latency with a warm cache is not observable alone in a genuine chain (only the CLI can call it):
// the custody − keychain difference of (2) is what the two hops add to a run.
import {spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {canaryKey} from '../test/e2e/support/canary.js'
import {installAv, removeInstall} from '../test/e2e/support/install.js'
import {startEndpoint} from '../test/e2e/support/sigv4-endpoint.js'
import {startKeyringSandbox} from '../test/e2e/support/user-sandbox.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const RUNS = Number(process.env.AV_BENCH_RUNS ?? 9)
const AWS = ['/usr/bin/python3', '-I', '/usr/bin/aws']
const DURABLE = canaryKey('BE4D')

if (!existsSync(path.join(ROOT, 'dist', 'lib', 'custody-main.js')))
  throw new Error('custody-bench: run `npm run build` first')
if (process.getuid?.() !== 0) throw new Error('custody-bench: run as root (it installs av and uses the e2e test user)')

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

async function measure(sandbox, group) {
  const samples = group.cases.map(() => [])
  for (let i = 0; i < group.runs + 1; i++) {
    for (const [index, c] of group.cases.entries()) {
      // eslint-disable-next-line no-await-in-loop -- one measured process at a time
      const r = await sandbox.run(c.argv, {env: c.env, input: c.input})
      if ((r.code === 0) !== (c.fails !== true)) throw new Error(`${c.name} exited ${r.code}: ${r.stderr}`)
      if ((r.stdout + r.stderr).includes(DURABLE.secretAccessKey))
        throw new Error(`${c.name} printed the durable canary`)
      if (i > 0) samples[index].push(r.ms)
    }
  }

  const medians = group.cases.map((c, index) => ({median: median(samples[index]), name: c.name}))
  const base = medians.find((m) => m.name === group.baseline).median
  console.log(`\n${group.runs} runs each, interleaved; ratio to "${group.baseline}"`)
  for (const m of medians) {
    console.log(`${m.name.padEnd(58)} ${m.median.toFixed(1).padStart(8)} ms  ${(m.median / base).toFixed(2)}×`)
  }

  return medians
}

const endpoint = await startEndpoint({credentials: [DURABLE], sessionSecretPrefix: 'avCanarySessionSecret'})
const sudoersFile = `/etc/sudoers.d/av-custody-bench-${randomBytes(4).toString('hex')}`
const custodyBase = mkdtempSync('/tmp/av-custody-bench-')
chmodSync(custodyBase, 0o755)
let install
let sandbox
try {
  install = installAv({sts: {endpoint: endpoint.url}}, ROOT, [
    '--custody',
    '--custody-dir',
    path.join(custodyBase, 'custody'),
    '--sudoers-file',
    sudoersFile,
  ])
  const entry = path.join(install.prefix, 'libexec', 'av-custody')
  const keychainPolicy = path.join(path.dirname(install.policyFile), 'keychain-policy.json')
  const withoutCustody = JSON.parse(readFileSync(install.policyFile, 'utf8'))
  delete withoutCustody.custody
  writeFileSync(keychainPolicy, JSON.stringify(withoutCustody), {mode: 0o644})
  sandbox = await startKeyringSandbox()
  await sandbox.sh(String.raw`mkdir -p ~/.aws && printf "[default]\nregion = us-east-1\n" > ~/.aws/config`)
  const stored = await sandbox.run(['/bin/sh', '-c', `/usr/bin/sudo -n ${entry} store`], {
    input: JSON.stringify({profile: 'default', ...DURABLE}),
  })
  if (stored.code !== 0) throw new Error(`custody store failed: ${stored.stderr}`)
  const seeded = await sandbox.run([
    process.execPath,
    '--input-type=module',
    '-e',
    `const {KeyringStore} = await import(${JSON.stringify(path.join(install.tree, 'dist/lib/secret-store.js'))})
     await new KeyringStore().set('aws:default', ${JSON.stringify(JSON.stringify({v: 1, ...DURABLE}))})`,
  ])
  if (seeded.code !== 0) throw new Error(`keychain seed failed: ${seeded.stderr}`)

  const run = [
    '/usr/bin/node',
    install.av,
    'run',
    '--',
    'aws',
    'sts',
    'get-caller-identity',
    '--endpoint-url',
    endpoint.url,
  ]
  const custodyEnv = {AV_POLICY: install.policyFile}
  const keychainEnv = {AV_POLICY: keychainPolicy}
  // Warm both session caches.
  for (const env of [custodyEnv, keychainEnv]) {
    // eslint-disable-next-line no-await-in-loop -- set-up
    const r = await sandbox.run(run, {env})
    if (r.code !== 0) throw new Error(`warm-up failed: ${r.stderr}`)
  }

  const hop = await measure(sandbox, {
    baseline: 'node -e 0',
    cases: [
      {argv: [process.execPath, '-e', '0'], name: 'node -e 0'},
      {
        argv: ['/bin/sh', '-c', `/usr/bin/sudo -n ${entry} release --profile default; exit $?`],
        fails: true,
        input: 'x',
        name: 'sudo -n <entry> release (refused at the caller check)',
      },
      {
        argv: ['/bin/sh', '-c', `/usr/bin/node ${install.av} credential-helper aws; exit $?`],
        env: {...keychainEnv, AV_RUN_TOKEN: 'x'.repeat(40)},
        fails: true,
        name: 'keychain helper (refused at the caller check)',
      },
    ],
    runs: RUNS * 2,
  })
  const runs = await measure(sandbox, {
    baseline: 'aws, static keys in env (plain)',
    cases: [
      {
        argv: [...AWS, 'sts', 'get-caller-identity', '--endpoint-url', endpoint.url],
        env: {
          AWS_ACCESS_KEY_ID: DURABLE.accessKeyId,
          AWS_CONFIG_FILE: '/dev/null',
          AWS_DEFAULT_REGION: 'us-east-1',
          AWS_SECRET_ACCESS_KEY: DURABLE.secretAccessKey,
          AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
        },
        name: 'aws, static keys in env (plain)',
      },
      {argv: run, env: keychainEnv, name: 'av run, keychain mode, warm session cache'},
      {argv: run, env: custodyEnv, name: 'av run, custody mode, warm session cache'},
    ],
    runs: RUNS,
  })
  const byName = (list, prefix) => list.find((m) => m.name.startsWith(prefix)).median
  console.log(
    `\ncustody − keychain per av run (mint + release hops): ${(byName(runs, 'av run, custody') - byName(runs, 'av run, keychain')).toFixed(1)} ms; ` +
      `one refused sudo hop − node -e 0: ${(byName(hop, 'sudo') - byName(hop, 'node -e 0')).toFixed(1)} ms`,
  )
  const sts = endpoint.requests.filter((r) => r.operation === 'GetSessionToken').length
  console.log(`GetSessionToken calls: ${sts} (the two warm-ups only)`)
} finally {
  await sandbox?.stop()
  removeInstall(install)
  rmSync(sudoersFile, {force: true})
  rmSync(custodyBase, {force: true, recursive: true})
  await endpoint.stop()
  console.log(spawnSync('/usr/sbin/visudo', ['-c'], {encoding: 'utf8'}).status === 0 ? '' : 'warning: visudo -c fails')
}
