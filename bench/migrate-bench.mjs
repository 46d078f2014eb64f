#!/usr/bin/env node
// Times `av migrate --yes` (and `av restore --yes`) of 1, 10 and 100 profiles against a real gnome-keyring in a
// private D-Bus session with a temp HOME, and prints medians and their ratio to `node -e 0` measured in the same
// run (this machine's NODE_EXTRA_CA_CERTS alone adds ~50 ms per Node start). Printed, never asserted.
// Usage: node bench/migrate-bench.mjs [runs=5]   (needs `npm run build`, dbus-run-session, gnome-keyring)
import {spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

const here = fileURLToPath(import.meta.url)
const bin = path.resolve(path.dirname(here), '../bin/run.js')
const runs = Number(process.argv[2] ?? 5)

if (process.argv[3] === '--inside') {
  const home = process.env.HOME
  const aws = path.join(home, '.aws')
  const time = (argv) => {
    const start = process.hrtime.bigint()
    const r = spawnSync(process.execPath, argv, {encoding: 'utf8'})
    const ms = Number(process.hrtime.bigint() - start) / 1e6
    if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}: ${r.stderr}`)
    return ms
  }

  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  const baseline = median(Array.from({length: runs}, () => time(['-e', '0'])))
  const rows = []
  for (const n of [1, 10, 100]) {
    const migrate = []
    const restore = []
    for (let r = 0; r < runs; r++) {
      rmSync(aws, {force: true, recursive: true})
      mkdirSync(aws, {mode: 0o700})
      let credentials = ''
      let config = '[default]\nregion = us-east-1\n'
      for (let i = 0; i < n; i++) {
        const id = `AKIAAVCANARY${String(i).padStart(8, '0')}`
        credentials += `[p${i}]\naws_access_key_id = ${id}\naws_secret_access_key = avCanarySecret/${i}\n\n`
        if (i % 2 === 0) config += `\n[profile p${i}]\nregion = eu-west-1\n`
      }

      writeFileSync(path.join(aws, 'credentials'), credentials, {mode: 0o600})
      writeFileSync(path.join(aws, 'config'), config, {mode: 0o600})
      migrate.push(time([bin, 'migrate', '--yes', '--json']))
      restore.push(time([bin, 'restore', '--yes', '--json']))
    }

    rows.push({n, migrate: median(migrate), restore: median(restore)})
  }

  const f = (ms) => `${ms.toFixed(0).padStart(6)} ms ${(ms / baseline).toFixed(1).padStart(5)}x`
  console.log(
    `av migrate / restore, median of ${runs} runs, real gnome-keyring; baseline node -e 0 = ${baseline.toFixed(0)} ms`,
  )
  console.log('profiles   migrate --yes           restore --yes')
  for (const row of rows) console.log(`${String(row.n).padStart(8)}   ${f(row.migrate)}       ${f(row.restore)}`)
} else {
  // Re-run this script inside a keyring session with its own HOME; only the inner run measures.
  const home = mkdtempSync(path.join(tmpdir(), 'av-migrate-bench-'))
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(AWS_|DBUS_|XDG_)/.test(k)))
  const unlock = `printf %s bench | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1
for i in $(seq 40); do dbus-send --session --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q true && break; sleep 0.05; done
exec "$@"`
  const result = spawnSync(
    'dbus-run-session',
    ['--', 'sh', '-c', unlock, 'sh', process.execPath, here, String(runs), '--inside'],
    {
      env: {...env, HOME: home},
      stdio: ['ignore', 'inherit', 'pipe'],
    },
  )
  rmSync(home, {force: true, recursive: true})
  process.exitCode = result.status ?? 1
}
