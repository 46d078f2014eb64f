// Cost of one audit record with the real keychain, as a ratio to a bare fsync'd append measured in the same run.
// Run inside a keyring sandbox:
//   HOME=$(mktemp -d) dbus-run-session -- sh -c 'echo -n pw | gnome-keyring-daemon --unlock --components=secrets \
//     >/dev/null; node --import tsx bench/audit-record.ts'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {FileAuditLog} from '../src/lib/audit/audit.js'
import {KeyringStore} from '../src/lib/store/secret-store.js'

const ROUNDS = 20
const dir = mkdtempSync(path.join(tmpdir(), 'av-bench-'))
const store = new KeyringStore()

async function each(label: string, fn: (i: number) => Promise<unknown>): Promise<number> {
  const start = performance.now()
  for (let i = 0; i < ROUNDS; i++) {
    // eslint-disable-next-line no-await-in-loop -- sequential on purpose: one record after another
    await fn(i)
  }

  const ms = (performance.now() - start) / ROUNDS
  process.stdout.write(`${label}: ${ms.toFixed(2)} ms\n`)
  return ms
}

const keyed = new FileAuditLog(path.join(dir, 'keyed'), Date.now, {store})
await keyed.record({event: 'gate'})
const baseline = await each('append + fsync, no store (baseline)', (i) =>
  new FileAuditLog(path.join(dir, 'plain'), Date.now).record({event: 'release', n: i}),
)
const full = await each('record with the keychain (key, head read, head write)', (i) =>
  keyed.record({event: 'release', n: i}),
)
await each('keychain get', () => store.get('audit-head'))
await each('keychain set', (i) => store.set('bench', String(i)))
await store.delete('bench')
process.stdout.write(`ratio record/baseline: ${(full / baseline).toFixed(1)}\n`)
