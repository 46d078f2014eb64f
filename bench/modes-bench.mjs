#!/usr/bin/env node
// Plain aws vs keychain mode vs custody mode, in ONE run against one local SigV4 endpoint, every case as one
// unprivileged e2e test user in its keyring session. Run as root after `npm run build`:
//   node bench/modes-bench.mjs [runs=12]        (or: node bench/run-all.mjs modes)
// Two installs: --keychain, and --custody with a unique /etc/sudoers.d/av-custody-bench-<hex> (removed at the end);
// the canary key migrated into each with `av migrate` (keychain in a HOME of its own). Cases interleave in one group
// (order rotating, round 0 discarded): medians, half the IQR, min, ratios to baselines measured in the same run and
// the issue's targets beside them (never asserted), and keychain mode's floor: the parts its design cannot do
// without (two Node starts, two bundle loads, the Secret Service reads), each measured in the same group. Then a
// timeline of each shim run from a 2 ms /proc sampler (when each process is first and last seen, in a pass of its
// own, with AV_TRACE=1 phases), peak RSS (VmHWM), and the STS GetSessionToken count (the two warm-ups only, when
// the session caches work).
import {spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {existsSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {performance} from 'node:perf_hooks'
import {register} from 'tsx/esm/api'

/* eslint-disable no-await-in-loop -- one measured process at a time, in order */

register()
const {CANARY_MARK, canaryKey} = await import('../test/e2e/support/canary.ts')
const {AWS_CLI, custodyArgs, e2eTempDir, installAv, removeInstall} = await import('../test/e2e/support/install.ts')
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

/** Pids below `pid`, read as root from /proc (children of main threads: node, python and sudo fork there). */
function descendants(pid) {
  let kids = ''
  try {
    kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
  } catch {}

  return kids
    .split(' ')
    .filter(Boolean)
    .flatMap((k) => [Number(k), ...descendants(Number(k))])
}

/** Processes of a run, by argv; the sampler notes when each is first and last seen, and its VmHWM. */
const ROLES = [
  ['root launcher', /root-launch(?:-main)?\.c?js/],
  ['user launcher (keychain)', /(?:run\.js|run-entry\.cjs)\0run\0/],
  ['AWS CLI', /\/usr\/bin\/aws\0/],
  ['sudo → release', /^\/usr\/bin\/sudo\0-n\0[^\0]*av-custody\0release/],
  // The entry script run by sudo (its fast path: the root launcher answers), or the entry point it execs otherwise.
  ['root release', /(?:^\/(?:usr\/)?bin\/(?:da)?sh\0[^\0]*av-custody|custody-main\.js)\0release/],
  ['helper (keychain)', /credential-helper\0aws/],
]

/** Record, for each role among `pids`, first/last time seen (ms since t0) and the peak VmHWM (kB). */
function sampleProcs(pids, t0, seen) {
  const now = performance.now() - t0
  for (const pid of pids) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1')
      const role = ROLES.find(([, re]) => re.test(cmd))?.[0]
      if (!role) continue
      const kb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0)
      seen[role] ??= {first: now, hwm: 0}
      Object.assign(seen[role], {hwm: Math.max(seen[role].hwm, kb), last: now})
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
  custody = installAv({sts: {endpoint: endpoint.url}}, undefined, custodyArgs(custodyBase, sudoersFile))
  sandbox = await startKeyringSandbox()
  // `sudo -n true` as this user (context: what one sudo execution costs), in a drop-in naming only this user.
  writeFileSync(trueDropIn, `${sandbox.user.name} ALL=(root) NOPASSWD: /usr/bin/true\n`, {mode: 0o440})
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
    // `av run` as users start it: the installed `av` shim on their PATH.
    kcRun: {argv: [path.join(keychain.binDir, 'av'), 'run', '--', 'aws', ...sts], env: kc, expect: ok},
    cuShim: {argv: [custody.aws, ...sts], env: cu, expect: ok},
    cuRun: {argv: [path.join(custody.binDir, 'av'), 'run', '--', 'aws', ...sts], env: cu, expect: ok},
  }
  const keychainEntry = (file) => path.join(keychain.tree, 'dist', 'lib', 'main', file)
  const usage = (r) => r.code === 2 && r.stdout === ''
  const keyring = path.join(keychain.tree, 'node_modules', '@napi-rs', 'keyring')
  /** A fresh Node reading `accounts` from the keychain as a release does: one Secret Service connection each. */
  const keyReads = (accounts) => ({
    argv: [
      process.execPath,
      '-e',
      `const {Entry} = require(${JSON.stringify(keyring)}); for (const a of ${JSON.stringify(accounts)}) ` +
        `if (new Entry('av', a, {linux: {store: 'secret-service'}}).getPassword() === null) process.exitCode = 3`,
    ],
    env: {HOME: homes.keychain},
  })
  const imp = (file) => `await import(${JSON.stringify(path.join(custody.tree, 'dist', 'lib', file))})`
  const refused = (r) => r.code !== 0 && r.stdout === ''
  const context = {
    nodeClean: {argv: [process.execPath, '-e', '0'], env: {}},
    nodeMachine: {argv: [process.execPath, '-e', '0'], env: machine},
    helper: {
      // What a keychain run's sealed config names (main/helper-entry.ts).
      argv: [
        process.execPath,
        path.join(keychain.tree, 'dist', 'lib', 'main', 'helper-entry.cjs'),
        'credential-helper',
        'aws',
        '--profile',
        'default',
      ],
      env: {...keychain.env, HOME: homes.keychain},
      expect: refused,
    },
    sudoTrue: {argv: ['/usr/bin/sudo', '-n', '/usr/bin/true'], env: {}},
    release: {
      argv: ['/bin/sh', '-c', `/usr/bin/sudo -n ${entry} release --profile default --run x; exit $?`],
      env: {},
      expect: refused,
    },
    launcherGraph: {argv: [process.execPath, '--input-type=module', '-e', imp('main/root-launch-main.js')], env: {}},
    releaseGraph: {argv: [process.execPath, '--input-type=module', '-e', imp('main/custody-main.js')], env: {}},
    cliPlainVersion: {argv: [...AWS_CLI, '--version'], env: {}},
    cliCopyVersion: {argv: [copy, ...AWS_CLI.slice(1), '--version'], env: {}},
    cuShimVersion: {argv: [custody.aws, '--version'], env: cu},
    // What keychain mode cannot do without, each in a fresh process with a clean environment like av's: loading
    // each entry's bundle (an unknown verb: usage refusal, nothing else), and Secret Service reads of one and of the
    // four items a release reads (values never printed). Shown in the floor below.
    launcherLoad: {argv: [process.execPath, keychainEntry('run-entry.cjs'), 'x'], env: {}, expect: usage},
    helperLoad: {argv: [process.execPath, keychainEntry('helper-entry.cjs'), 'x'], env: {}, expect: usage},
    keyRead1: keyReads(['token-key']),
    keyRead4: keyReads(['token-key', 'session:default', 'audit-key', 'audit-head']),
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

  // The issue's targets: an aws call through av as a ratio to plain aws, the helper as a ratio to `node -e 0`.
  const TARGET = {aws: 1.15, helper: 1.25}
  const row = (label, r, base, target = null) =>
    console.log(
      `  ${label.padEnd(52)} ${r.ms.toFixed(1).padStart(7)} ms ±${r.iqr.toFixed(1).padStart(5)} ` +
        `(min ${r.min.toFixed(0).padStart(4)})` +
        (base ? `  ${(r.ms / base.ms).toFixed(3)}×${target ? `  (target ≤ ${target.toFixed(2)})` : ''}` : ''),
    )
  console.log(`\nmodes bench: ${RUNS} runs each, interleaved, medians ± half-IQR (min); load avg ${load0} → ${load1}`)
  console.log('aws sts get-caller-identity, ratio to plain aws')
  row('plain: python3 -I /usr/bin/aws, plaintext keys', m.plain, m.plain)
  row('keychain, warm: installed aws shim', m.kcShim, m.plain, TARGET.aws)
  row('keychain, warm: av run -- aws', m.kcRun, m.plain, TARGET.aws)
  row('custody, warm: installed aws shim', m.cuShim, m.plain, TARGET.aws)
  row('custody, warm: av run -- aws', m.cuRun, m.plain, TARGET.aws)
  console.log('helper and context, ratio to node -e 0 (clean env)')
  row('node -e 0, clean environment', m.nodeClean, m.nodeClean)
  row(
    `node -e 0, this machine's env${ca.NODE_EXTRA_CA_CERTS ? ' (NODE_EXTRA_CA_CERTS)' : ''}`,
    m.nodeMachine,
    m.nodeClean,
  )
  row('keychain helper refusal (no token), clean env', m.helper, m.nodeClean, TARGET.helper)
  row('sudo -n /usr/bin/true (as the user)', m.sudoTrue, m.nodeClean)
  row('node: import root-launch-main.js (module graph)', m.launcherGraph, m.nodeClean)
  row('node: import custody-main.js (module graph)', m.releaseGraph, m.nodeClean)
  row('sudo -n av-custody release, no live run (entry point)', m.release, m.nodeClean)
  console.log('custody phases (aws --version runs no credential_process)')
  row('python3 -I /usr/bin/aws --version', m.cliPlainVersion)
  row('0711 copy aws-python3 -I /usr/bin/aws --version', m.cliCopyVersion)
  row('custody shim aws --version (sh+sudo+root launcher+CLI)', m.cuShimVersion)
  const d = (label, ms) => console.log(`  ${label.padEnd(52)} ${ms.toFixed(1).padStart(7)} ms`)
  // The CLI's interpreter imports while root starts, gates and records (run/prewarm.ts): the launcher's own
  // time overlaps the CLI's, so only what comes before the interpreter starts and after it ends adds up here.
  d('= what av adds around the CLI (shim --version − copy)', m.cuShimVersion.ms - m.cliCopyVersion.ms)
  d('  of which sudo -n (sudo -n true)', m.sudoTrue.ms)
  d('  (Node start + launcher graph, overlapped by the CLI)', m.launcherGraph.ms)
  d('custody shim − plain (total overhead)', m.cuShim.ms - m.plain.ms)
  d('custody av run − custody shim (the av shim takes the same path)', m.cuRun.ms - m.cuShim.ms)
  d('keychain shim − plain (total overhead)', m.kcShim.ms - m.plain.ms)
  // Keychain mode's floor in this design (every attack test as it is): the CLI's start environment must hold a
  // token minted with the keychain's token key, so a Node launcher starts, loads and reads the keychain before the
  // CLI's interpreter can start; and credentials come from a Node helper the CLI starts, which reads the token key,
  // the session and the audit chain's key and head. Only those parts, each measured above; no gate, no /proc
  // check, no write, no exit: the floor is lower than anything this design can reach.
  const node = m.nodeClean.ms
  const part = {
    launcherLoad: m.launcherLoad.ms - node,
    helperLoad: m.helperLoad.ms - node,
    keyRead1: m.keyRead1.ms - node,
    keyRead4: m.keyRead4.ms - node,
  }
  const launcherFloor = node + part.launcherLoad + part.keyRead1
  const helperFloor = node + part.helperLoad + part.keyRead4
  const floorRatio = (label, ratio, target, note) =>
    console.log(`  ${label.padEnd(52)} ${ratio.toFixed(3)}×  (target ≤ ${target.toFixed(2)} ${note})`)
  console.log('keychain mode: its floor in this design (what a run cannot do without)')
  d('  Node start, clean environment (node -e 0)', node)
  d('  launcher bundle load (run-entry.cjs)', part.launcherLoad)
  d('  helper bundle load (helper-entry.cjs)', part.helperLoad)
  d('  keychain library + 1 Secret Service read', part.keyRead1)
  d('  keychain library + 4 Secret Service reads', part.keyRead4)
  d('= launcher before the CLI can start (start, load, token key)', launcherFloor)
  d('+ helper (start, load, 4 reads)', helperFloor)
  d('= floor of what keychain mode adds', launcherFloor + helperFloor)
  floorRatio(
    'floor as a ratio to plain aws',
    (m.plain.ms + launcherFloor + helperFloor) / m.plain.ms,
    TARGET.aws,
    `allows ${((TARGET.aws - 1) * m.plain.ms).toFixed(1)} ms; two Node starts alone are ${(2 * node).toFixed(1)} ms`,
  )
  // A refusal too is recorded in the chained audit log (its key and head are keychain items): the library and two
  // reads, the second read's cost taken as an average one of the three reads keyRead4 adds to keyRead1.
  const refusalFloor = node + part.helperLoad + part.keyRead1 + (part.keyRead4 - part.keyRead1) / 3
  d('helper refusal floor (start, load, audit key and head)', refusalFloor)
  floorRatio(
    'helper refusal floor as a ratio to node -e 0',
    refusalFloor / node,
    TARGET.helper,
    `allows ${((TARGET.helper - 1) * node).toFixed(1)} ms above Node's start`,
  )
  // A pass of its own (the 2 ms sampler costs CPU), with AV_TRACE=1: when each process of a run starts and ends,
  // its peak RSS, and av's own phase marks.
  const runs = {cuShim: [], kcShim: []}
  const traced = {}
  for (let i = 0; i < Math.max(6, RUNS / 2); i++) {
    for (const name of Object.keys(runs)) {
      const t0 = performance.now()
      const started = sandbox.spawn(cases[name].argv, {env: {...cases[name].env, AV_TRACE: '1'}, input: ''})
      const seen = {}
      const timer = setInterval(() => sampleProcs([started.pid, ...descendants(started.pid)], t0, seen), 2)
      const r = await started.result
      clearInterval(timer)
      if (!cases[name].expect(r)) throw new Error(`timeline pass: ${r.stderr}`)
      runs[name].push({...seen, end: performance.now() - t0})
      for (const [, who, phase, ms] of r.stderr.matchAll(/^av-trace (\S+) (\S+) \+([\d.]+)ms/gm)) {
        ;(traced[`${name} ${who} ${phase}`] ??= []).push(Number(ms))
      }
    }
  }

  // Phases between marks: `role<` first seen (exec'd), `role>` last seen, '' spawn, 'end' exit.
  const at = (s, mark) =>
    mark === '' ? 0 : mark === 'end' ? s.end : s[mark.slice(0, -1)][mark.at(-1) === '<' ? 'first' : 'last']
  const timelines = {
    cuShim: [
      ['shim start → CLI interpreter (sh, sudo, entry script)', '', 'AWS CLI<'],
      ['  (meanwhile) shim start → root launcher node', '', 'root launcher<'],
      ['CLI start → credential_process sudo', 'AWS CLI<', 'sudo → release<'],
      ['sudo → root release (entry script)', 'sudo → release<', 'root release<'],
      ['root release lifetime (the launcher answers)', 'root release<', 'root release>'],
      ['release end → CLI end (request, output)', 'root release>', 'AWS CLI>'],
      ['CLI end → shim end (launcher, sudo exit)', 'AWS CLI>', 'end'],
    ],
    kcShim: [
      ['shim start → CLI exec (user launcher: Node, keychain…)', '', 'AWS CLI<'],
      ['CLI start → helper node', 'AWS CLI<', 'helper (keychain)<'],
      ['helper node lifetime', 'helper (keychain)<', 'helper (keychain)>'],
      ['helper end → CLI end (request, output)', 'helper (keychain)>', 'AWS CLI>'],
      ['CLI end → shim end', 'AWS CLI>', 'end'],
    ],
  }
  for (const [name, phases] of Object.entries(timelines)) {
    console.log(`${name} timeline: ${runs[name].length} runs, 2 ms /proc sampler (adds load), medians`)
    const total = median(runs[name].map((s) => s.end))
    for (const [label, from, to] of [...phases, ['total (with the sampler running)', '', 'end']]) {
      const ms = median(runs[name].map((s) => at(s, to) - at(s, from)))
      console.log(
        `    ${label.padEnd(50)} ${ms.toFixed(1).padStart(7)} ms ${((100 * ms) / total).toFixed(0).padStart(3)}%`,
      )
    }
  }

  console.log('AV_TRACE=1 phases in the same runs (ms since the previous mark, medians)')
  for (const [key, xs] of Object.entries(traced)) d(`  ${key}`, median(xs))
  console.log('peak RSS (VmHWM, max over those runs; a short-lived process may peak just after its last sample)')
  for (const [role] of ROLES) {
    const kb = Math.max(0, ...Object.values(runs).flatMap((list) => list.map((s) => s[role]?.hwm ?? 0)))
    console.log(`  ${role.padEnd(52)} ${kb ? `${(kb / 1024).toFixed(1).padStart(7)} MB` : '   not seen'}`)
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
