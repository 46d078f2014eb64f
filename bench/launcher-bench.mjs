#!/usr/bin/env node
// The launcher's cost: `aws sts get-caller-identity` against a local endpoint, run as plain AWS CLI v2 with canary
// keys in the environment, through `av run -- aws …` (bin/run.js by absolute path), and through the installed
// `aws` shim (av installed into a temp prefix). Prints medians and ratios to plain aws measured in the same run.
// Needs root (a root-owned temp policy and install), dbus-run-session + gnome-keyring, the Debian awscli, and a
// built av that includes the helper (`npm run build`). Usage: node bench/launcher-bench.mjs [runs]
import {execFile, spawnSync} from 'node:child_process'
import {chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

const repo = fileURLToPath(new URL('..', import.meta.url))
const runs = Number(process.argv[2] ?? 10)
const AKID = 'AKIAAVCANARY0000BNCH'
const SECRET = 'avCanarySecretBench0000000000000000000000'

if (process.env.AV_BENCH_INNER === '1') {
  await measure()
} else {
  // Re-run inside a private session bus with an unlocked keyring, in a throwaway HOME.
  const home = mkdtempSync('/tmp/av-bench-home-')
  const inner = `echo -n pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null; exec "${process.execPath}" "${fileURLToPath(import.meta.url)}" ${runs}`
  const result = spawnSync('dbus-run-session', ['--', 'sh', '-c', inner], {
    env: {...process.env, AV_BENCH_INNER: '1', HOME: home},
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  rmSync(home, {force: true, recursive: true})
  process.exitCode = result.status ?? 1
}

function median(xs) {
  return xs.toSorted((a, b) => a - b)[Math.floor(xs.length / 2)]
}

async function measure() {
  const {KeyringStore} = await import(path.join(repo, 'dist/lib/secret-store.js'))
  const {encodeKeyPair, profileAccount} = await import(path.join(repo, 'dist/lib/credentials.js'))
  await new KeyringStore().set(profileAccount('default'), encodeKeyPair({accessKeyId: AKID, secretAccessKey: SECRET}))

  const body =
    '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>' +
    '<Arn>arn:aws:iam::123456789012:user/bench</Arn><UserId>AIDABENCH</UserId><Account>123456789012</Account>' +
    '</GetCallerIdentityResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>'
  const server = http.createServer((req, res) => {
    req.resume()
    req.on('end', () => res.end(body))
  })
  await new Promise((resolve) => {
    server.listen(0, '127.0.0.1', resolve)
  })
  const endpoint = `http://127.0.0.1:${server.address().port}`

  const root = mkdtempSync('/tmp/av-bench-')
  chmodSync(root, 0o755)
  const policy = path.join(root, 'etc', 'policy.json')
  mkdirSync(path.dirname(policy))
  writeFileSync(policy, JSON.stringify({endpoints: ['http://127.0.0.1:*']}))
  const prefix = path.join(root, 'opt', 'av')
  const install = spawnSync(
    process.execPath,
    [
      path.join(repo, 'bin/run.js'),
      'install',
      '--prefix',
      prefix,
      '--bin-dir',
      path.join(root, 'bin'),
      '--policy',
      policy,
    ],
    {encoding: 'utf8'},
  )
  if (install.status !== 0) throw new Error(`av install failed: ${install.stderr}`)

  const args = ['sts', 'get-caller-identity', '--endpoint-url', endpoint, '--region', 'us-east-1']
  const env = {...process.env, AV_POLICY: policy}
  const cases = [
    ['node -e 0', process.execPath, ['-e', '0'], env],
    [
      'plain aws',
      '/usr/bin/python3',
      ['-I', '/usr/bin/aws', ...args],
      {...env, AWS_ACCESS_KEY_ID: AKID, AWS_SECRET_ACCESS_KEY: SECRET},
    ],
    ['av run -- aws', process.execPath, [path.join(repo, 'bin/run.js'), 'run', '--', 'aws', ...args], env],
    ['installed aws shim', path.join(prefix, 'bin', 'aws'), args, env],
  ]

  /** Run one command without blocking the event loop (the endpoint answers from this process). */
  function timeRun(file, argv, e) {
    return new Promise((resolve, reject) => {
      const start = process.hrtime.bigint()
      execFile(file, argv, {encoding: 'utf8', env: e}, (error, stdout, stderr) => {
        const ms = Number(process.hrtime.bigint() - start) / 1e6
        if (error) reject(new Error(`${file} failed (${error.code}): ${stderr}`))
        else if (`${stdout}${stderr}`.includes('avCanarySecret')) reject(new Error(`${file} printed the secret`))
        else resolve(ms)
      })
    })
  }

  // Interleave the cases run by run so machine load drifts hit them alike.
  const times = new Map(cases.map(([name]) => [name, []]))
  for (let i = 0; i <= runs; i++) {
    for (const [name, file, argv, e] of cases) {
      // eslint-disable-next-line no-await-in-loop -- one command at a time
      const ms = await timeRun(file, argv, e)
      if (i > 0) times.get(name).push(ms) // the first round warms caches
    }
  }

  const plain = median(times.get('plain aws'))
  for (const [name] of cases) {
    const m = median(times.get(name))
    console.log(`${name.padEnd(20)} median ${m.toFixed(0).padStart(6)} ms   ×${(m / plain).toFixed(2)} plain aws`)
  }

  spawnSync(process.execPath, [path.join(repo, 'bin/run.js'), 'uninstall', '--prefix', prefix], {stdio: 'ignore'})
  rmSync(root, {force: true, recursive: true})
  server.close()
}
