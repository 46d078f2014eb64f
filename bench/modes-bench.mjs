#!/usr/bin/env node
// Plain aws vs keychain mode vs custody mode, in ONE run against one local SigV4 endpoint, as one unprivileged e2e
// test user in its keyring session (run as root after `npm run build`):
//   node bench/modes-bench.mjs [runs=12]        (or: npm run bench -- modes)
// Two installs (keychain: --keychain; custody: --custody with a unique /etc/sudoers.d/av-custody-bench-<hex>,
// removed at the end), the canary key migrated into each (keychain: `av migrate` in a HOME of its own; custody:
// `av migrate` into root custody). Every case runs as the user; cases interleave (order rotating each round, round
// 0 discarded) and print medians, half the interquartile range, ratios to a baseline measured in the same run, and
// the issue's targets beside them (never asserted). Then derived phases of a custody run, the peak RSS of av's
// processes (VmHWM sampled from /proc every 2 ms in a separate pass: a lower bound for short-lived processes) and
// the STS GetSessionToken count (the two warm-ups only, if session caches work).
import {spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {existsSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {performance} from 'node:perf_hooks'
import {register} from 'tsx/esm/api'

/* eslint-disable no-await-in-loop -- one measured process at a time, in order */

register()
const {CANARY_MARK, canaryKey} = await import('../test/e2e/support/canary.ts')
const {AWS_CLI, e2eTempDir, installAv, removeInstall} = await import('../test/e2e/support/install.ts')
const {startEndpoint} = await import('../test/e2e/support/sigv4-endpoint.ts')
const {startKeyringSandbox} = await import('../test/e2e/support/user-sandbox.ts')

const RUNS = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? process.env.AV_BENCH_RUNS ?? 12)
const KEY = canaryKey('M0DE')
const BENCH_DROPIN = 'av-custody-bench-'
if (process.getuid?.() !== 0) {
  console.log('modes-bench: skipped (run as root: it installs av, writes a sudoers drop-in and uses a test user)')
  // eslint-disable-next-line n/no-process-exit -- a skip, before anything is set up
  process.exit(0)
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]

/** Drop-ins a killed run of this bench left behind: their program or their user is gone. */
function sweepStaleDropIns() {
  for (const name of readdirSync('/etc/sudoers.d').filter((n) => n.startsWith(BENCH_DROPIN))) {
    const file = path.join('/etc/sudoers.d', name)
    const [, who, target] = /^(\S+) ALL=\(root\) NOPASSWD: ([^\s,]+)/m.exec(readFileSync(file, 'utf8')) ?? []
    const userGone = who && who !== 'ALL' && spawnSync('id', ['-u', who]).status !== 0
    if (!target || !existsSync(target) || userGone) rmSync(file, {force: true})
  }
}

/** Pids below `pid` (every thread's children), read as root from /proc. */
function descendants(pid, out = []) {
  let tasks = []
  try {
    tasks = readdirSync(`/proc/${pid}/task`)
  } catch {}

  for (const t of tasks) {
    let kids = ''
    try {
      kids = readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8')
    } catch {}

    for (const k of kids.split(' ').filter(Boolean)) out.push(Number(k), ...descendants(Number(k)))
  }

  return out
}

const ROLES = [
  ['root launcher (custody)', /root-launch-main\.js/],
  ['root release (custody)', /custody-main\.js\0release/],
  ['user launcher (keychain)', /run\.js\0run\0/],
  ['helper (keychain)', /credential-helper\0aws/],
  ['AWS CLI (python)', /\/usr\/bin\/aws\0/],
]

/** Raise `peaks[role]` to the VmHWM (kB) of each process in `pids` whose argv names an av role. */
function sampleRss(pids, peaks) {
  for (const pid of pids) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1')
      const role = ROLES.find(([, re]) => re.test(cmd))?.[0]
      const kb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0)
      if (role) peaks[role] = Math.max(peaks[role] ?? 0, kb)
    } catch {}
  }
}

const endpoint = await startEndpoint({credentials: [KEY], sessionSecretPrefix: 'avCanarySessionSecret'})
sweepStaleDropIns()
const hex = randomBytes(4).toString('hex')
const sudoersFile = `/etc/sudoers.d/${BENCH_DROPIN}${hex}`
const trueDropIn = `/etc/sudoers.d/${BENCH_DROPIN}${hex}-true`
const custodyBase = e2eTempDir('custody-bench-')
let keychain
let custody
let sandbox
try {
  keychain = installAv({sts: {endpoint: endpoint.url}})
  custody = installAv({sts: {endpoint: endpoint.url}}, undefined, [
    '--custody',
    '--custody-dir',
    path.join(custodyBase, 'custody'),
    '--run-dir',
    path.join(custodyBase, 'run'),
    '--sudoers-file',
    sudoersFile,
  ])
  sandbox = await startKeyringSandbox()
  const {user} = sandbox
  // `sudo -n true` as this user (context: what one sudo execution costs), in a drop-in naming only this user.
  writeFileSync(trueDropIn, `${user.name} ALL=(root) NOPASSWD: /usr/bin/true\n`, {mode: 0o440})
  if (spawnSync('/usr/sbin/visudo', ['-cf', trueDropIn]).status !== 0) throw new Error('visudo rejects the drop-in')

  const ca = process.env.NODE_EXTRA_CA_CERTS ? {NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS} : {}
  const homes = {custody: sandbox.home, keychain: sandbox.userDir('keychain-home'), plain: sandbox.userDir('plain')}
  const creds = `[default]\naws_access_key_id = ${KEY.accessKeyId}\naws_secret_access_key = ${KEY.secretAccessKey}\n`
  for (const [home, install] of [[homes.plain], [homes.custody, custody], [homes.keychain, keychain]]) {
    const config = '[default]\nregion = eu-west-1\noutput = json\n'
    await sandbox.sh(`umask 077 && mkdir -p ${home}/.aws && cat > ${home}/.aws/config`, {input: config})
    await sandbox.sh(`umask 077 && cat > ${home}/.aws/credentials`, {input: creds})
    if (!install) continue
    const r = await sandbox.run([process.execPath, install.av, 'migrate', '--yes'], {env: {...install.env, HOME: home}})
    if (r.code !== 0) throw new Error(`av migrate (${home}) failed: ${r.stderr}`)
  }

  const machine = {...ca} // this machine's environment: its NODE_EXTRA_CA_CERTS
  const sts = ['sts', 'get-caller-identity', '--endpoint-url', endpoint.url]
  const kc = {...machine, ...keychain.env, HOME: homes.keychain}
  const cu = {...machine, ...custody.env}
  const entry = path.join(custody.prefix, 'libexec', 'av-custody')
  const copy = path.join(custody.prefix, 'libexec', 'aws-python3')
  const ok = (r) => r.code === 0 && /"Arn"/.test(r.stdout)
  const cases = {
    plain: {argv: [...AWS_CLI, ...sts], env: {...machine, HOME: homes.plain}, expect: ok},
    kcShim: {argv: [keychain.aws, ...sts], env: kc, expect: ok},
    kcRun: {argv: [process.execPath, keychain.av, 'run', '--', 'aws', ...sts], env: kc, expect: ok},
    cuShim: {argv: [custody.aws, ...sts], env: cu, expect: ok},
    cuRun: {argv: [process.execPath, custody.av, 'run', '--', 'aws', ...sts], env: cu, expect: ok},
  }
  const imp = (file) => `await import(${JSON.stringify(path.join(custody.tree, 'dist', 'lib', file))})`
  const refused = (r) => r.code !== 0 && r.stdout === ''
  const context = {
    nodeClean: {argv: [process.execPath, '-e', '0'], env: {}},
    nodeMachine: {argv: [process.execPath, '-e', '0'], env: machine},
    helper: {
      argv: [process.execPath, keychain.av, 'credential-helper', 'aws', '--profile', 'default'],
      env: {...keychain.env, HOME: homes.keychain},
      expect: refused,
    },
    sudoTrue: {argv: ['/usr/bin/sudo', '-n', '/usr/bin/true'], env: {}},
    release: {
      argv: ['/bin/sh', '-c', `/usr/bin/sudo -n ${entry} release --profile default --run x; exit $?`],
      env: {},
      expect: refused,
    },
    launcherGraph: {argv: [process.execPath, '--input-type=module', '-e', imp('root-launch-main.js')], env: {}},
    releaseGraph: {argv: [process.execPath, '--input-type=module', '-e', imp('custody-main.js')], env: {}},
    cliPlainVersion: {argv: [...AWS_CLI, '--version'], env: {}},
    cliCopyVersion: {argv: [copy, ...AWS_CLI.slice(1), '--version'], env: {}},
    cuShimVersion: {argv: [custody.aws, '--version'], env: cu},
  }

  async function once(c) {
    const t = performance.now()
    const r = await sandbox.run(c.argv, {env: c.env, input: ''})
    const ms = performance.now() - t
    if (!(c.expect ?? ((x) => x.code === 0))(r)) throw new Error(`${c.argv.join(' ')} → ${r.code}: ${r.stderr}`)
    if ((r.stdout + r.stderr).includes(CANARY_MARK)) throw new Error(`${c.argv.join(' ')} printed a canary secret`)
    return ms
  }

  async function measure(group) {
    const names = Object.keys(group)
    const samples = Object.fromEntries(names.map((n) => [n, []]))
    for (let i = 0; i <= RUNS; i++) {
      for (let j = 0; j < names.length; j++) {
        const name = names[(i + j) % names.length]
        const ms = await once(group[name])
        if (i > 0) samples[name].push(ms)
      }
    }

    return Object.fromEntries(
      names.map((n) => {
        const xs = samples[n]
        return [n, {iqr: (quantile(xs, 0.75) - quantile(xs, 0.25)) / 2, min: Math.min(...xs), ms: median(xs)}]
      }),
    )
  }

  // Warm both session caches (one GetSessionToken each), then measure.
  for (const c of [cases.kcRun, cases.cuShim]) await once(c)
  const warmSts = endpoint.requests.filter((r) => r.operation === 'GetSessionToken').length
  const load0 = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
  // One interleaved group, so that the differences below subtract figures measured under the same load.
  const m = await measure({...cases, ...context})
  const load1 = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')

  const row = (label, r, base, target = '') =>
    console.log(
      `  ${label.padEnd(52)} ${r.ms.toFixed(1).padStart(7)} ms ±${r.iqr.toFixed(1).padStart(5)} ` +
        `(min ${r.min.toFixed(0).padStart(4)})` +
        (base ? `  ${(r.ms / base.ms).toFixed(3)}×${target ? `  (target ≤ ${target})` : ''}` : ''),
    )
  console.log(`\nmodes bench: ${RUNS} runs each, interleaved, medians ± half-IQR (min); load avg ${load0} → ${load1}`)
  console.log('aws sts get-caller-identity, ratio to plain aws')
  row('plain: python3 -I /usr/bin/aws, plaintext keys', m.plain, m.plain)
  row('keychain, warm: installed aws shim', m.kcShim, m.plain, '1.15')
  row('keychain, warm: av run -- aws', m.kcRun, m.plain, '1.15')
  row('custody, warm: installed aws shim', m.cuShim, m.plain, '1.15')
  row('custody, warm: av run -- aws', m.cuRun, m.plain, '1.15')
  console.log('helper and context, ratio to node -e 0 (clean env)')
  row('node -e 0, clean environment', m.nodeClean, m.nodeClean)
  row(
    `node -e 0, this machine's env${ca.NODE_EXTRA_CA_CERTS ? ' (NODE_EXTRA_CA_CERTS)' : ''}`,
    m.nodeMachine,
    m.nodeClean,
  )
  row('keychain helper refusal (no token), clean env', m.helper, m.nodeClean, '1.25')
  row('sudo -n /usr/bin/true (as the user)', m.sudoTrue, m.nodeClean)
  row('node: import root-launch-main.js (module graph)', m.launcherGraph, m.nodeClean)
  row('node: import custody-main.js (module graph)', m.releaseGraph, m.nodeClean)
  row('sudo -n av-custody release, refused (caller check)', m.release, m.nodeClean)
  console.log('custody phases (aws --version runs no credential_process)')
  row('python3 -I /usr/bin/aws --version', m.cliPlainVersion)
  row('0711 copy aws-python3 -I /usr/bin/aws --version', m.cliCopyVersion)
  row('custody shim aws --version (sh+sudo+root launcher+CLI)', m.cuShimVersion)
  const d = (label, ms) => console.log(`  ${label.padEnd(52)} ${ms.toFixed(1).padStart(7)} ms`)
  const launcher = m.cuShimVersion.ms - m.cliCopyVersion.ms
  d('= sh + sudo + root launcher (shim --version − copy)', launcher)
  d('  of which sudo -n (sudo -n true)', m.sudoTrue.ms)
  d('  of which Node start + launcher module graph', m.launcherGraph.ms)
  d('  rest: policy, gate, run record, spawn, wait', launcher - m.sudoTrue.ms - m.launcherGraph.ms)
  const hop = m.cuShim.ms - m.cuShimVersion.ms - (m.plain.ms - m.cliPlainVersion.ms)
  d('= release hop: (sts − --version) shim − same, plain', hop)
  d('  refused release: sudo + Node + graph + first check', m.release.ms)
  d('custody shim − plain (total overhead)', m.cuShim.ms - m.plain.ms)
  d('custody av run − custody shim (user-side Node)', m.cuRun.ms - m.cuShim.ms)
  d('keychain shim − plain (total overhead)', m.kcShim.ms - m.plain.ms)

  // Peak RSS, in a pass of its own (the sampler costs CPU): VmHWM of each role's processes, max over the runs.
  const peaks = {}
  for (const c of [cases.cuShim, cases.cuShim, cases.cuShim, cases.kcShim, cases.kcShim, cases.kcShim]) {
    const started = sandbox.spawn(c.argv, {env: c.env, input: ''})
    const timer = setInterval(() => sampleRss([started.pid, ...descendants(started.pid)], peaks), 2)
    const r = await started.result
    clearInterval(timer)
    if (!c.expect(r)) throw new Error(`RSS pass: ${r.stderr}`)
  }

  console.log('peak RSS (VmHWM sampled every 2 ms; short-lived processes may peak a little higher)')
  for (const [role] of ROLES) {
    console.log(
      `  ${role.padEnd(52)} ${peaks[role] ? `${(peaks[role] / 1024).toFixed(1).padStart(7)} MB` : '   not seen'}`,
    )
  }

  const gst = endpoint.requests.filter((r) => r.operation === 'GetSessionToken').length
  const calls = endpoint.requests.filter((r) => r.operation === 'GetCallerIdentity')
  console.log(
    `STS GetSessionToken calls: ${gst} (${warmSts} in the warm-ups, ${gst - warmSts} while measuring); ` +
      `GetCallerIdentity: ${calls.length}, ${calls.filter((r) => !r.verified).length} with a bad signature`,
  )
} finally {
  await sandbox?.stop()
  removeInstall(keychain)
  removeInstall(custody)
  rmSync(sudoersFile, {force: true})
  rmSync(trueDropIn, {force: true})
  rmSync(custodyBase, {force: true, recursive: true})
  await endpoint.stop()
  if (spawnSync('/usr/sbin/visudo', ['-c']).status !== 0) console.log('warning: visudo -c fails')
}
