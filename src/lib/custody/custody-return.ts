/**
 * `sudo av uninstall` with custody installed: before the custody directory goes, every user's durable keys go back
 * into that user's own OS keychain (nothing lost), where keychain-mode av finds them and `av restore` can put every
 * byte back into ~/.aws.
 *
 * Root cannot write into a user's keychain: the Secret Service answers on the user's session bus, and only to the
 * user's uid. So for each user, root starts av's keychain importer (keychain-import-main.ts) as that user, on that
 * user's session bus, with the items on stdin, and deletes nothing unless the importer read every item back. The
 * bus is, in order: the one in this process's environment when sudo was run by that user (`sudo -E`), the one of
 * the process that ran sudo, /run/user/<uid>/bus, then any the user's running processes use.
 */
import {spawnSync} from 'node:child_process'
import {existsSync, readdirSync, readFileSync, statSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {AvError} from '../core/errors.js'
import {passwdEntry} from '../core/passwd.js'
import {type ProcessTable, systemProcessTable} from '../core/process-table.js'
import {decodeKeyPair, profileOfAccount} from '../store/credentials.js'
import {accountOfFileName} from '../store/custody-store.js'
import {type SecretStore} from '../store/secret-store.js'

/** Importer's answer on stdout. */
export interface ImportAnswer {
  returned: string[]
}

/**
 * The importer's work, run as the user: refuse if the keychain holds a different key for any profile (before
 * writing anything), then write each item and read it back. An item already there with the same key is written
 * again so that it carries custody's restore record.
 */
export async function importItems(store: SecretStore, items: Record<string, string>): Promise<ImportAnswer> {
  await store.probe()
  const accounts = Object.keys(items).sort()
  const conflicts: string[] = []
  for (const account of accounts) {
    if (profileOfAccount(account) === null) throw new AvError('bad-input', `not a durable key: ${account}`)
    const existing = await store.get(account) // eslint-disable-line no-await-in-loop -- small, in order
    if (existing === null) continue
    const [have, want] = [decodeKeyPair(account, existing), decodeKeyPair(account, items[account]!)]
    if (have.accessKeyId !== want.accessKeyId || have.secretAccessKey !== want.secretAccessKey) conflicts.push(account)
  }

  if (conflicts.length > 0) {
    throw new AvError('conflict', `the OS keychain already holds different keys for ${conflicts.join(', ')}`, {
      suggestion: 'Move or delete those keychain items (secret-tool, Keychain Access), then uninstall again.',
    })
  }

  /* eslint-disable no-await-in-loop -- one item after the other, each read back before the next */
  for (const account of accounts) {
    await store.set(account, items[account]!)
    if ((await store.get(account)) !== items[account]) {
      throw new AvError('store-unavailable', `the OS keychain did not return ${account} as written`)
    }
  }
  /* eslint-enable no-await-in-loop */

  return {returned: accounts}
}

export interface ReturnWorld {
  env: NodeJS.ProcessEnv
  /** keychain-import-main.js, run with this node as the user. */
  importer: string
  pid: number
  table: ProcessTable
  /** Every pid on the machine (for the last-resort bus search). */
  pids(): number[]
  exists(file: string): boolean
}

/** Session buses to try for `uid`, most specific first, each once. */
export function busCandidates(uid: number, world: ReturnWorld): string[] {
  const found: string[] = []
  const add = (address: string | undefined) => {
    if (address && /^(unix|tcp):/.test(address) && !found.includes(address)) found.push(address)
  }

  const ranSudo = world.env.SUDO_UID === String(uid)
  if (ranSudo) {
    add(world.env.DBUS_SESSION_BUS_ADDRESS)
    // The process that ran sudo: the nearest ancestor running as the user.
    let current = world.table.snapshot(world.pid)
    for (let hops = 0; current && hops < 8; hops++) {
      const parent = world.table.snapshot(current.ppid)
      if (parent?.uid === uid) {
        add(world.table.environ(parent.pid)?.DBUS_SESSION_BUS_ADDRESS)
        break
      }

      current = parent
    }
  }

  const runtimeBus = `/run/user/${uid}/bus`
  if (world.exists(runtimeBus)) add(`unix:path=${runtimeBus}`)
  for (const pid of world.pids()) {
    if (found.length >= 6) break
    if (world.table.snapshot(pid)?.uid !== uid) continue
    add(world.table.environ(pid)?.DBUS_SESSION_BUS_ADDRESS)
  }

  return found
}

/** The durable items (account → value) in one user's custody directory. */
function durableItems(userDir: string): Record<string, string> {
  const items: Record<string, string> = {}
  for (const name of readdirSync(userDir)) {
    const account = accountOfFileName(name)
    if (account !== null && profileOfAccount(account) !== null) {
      items[account] = readFileSync(path.join(userDir, name), 'utf8')
    }
  }

  return items
}

/**
 * Profiles whose `av rotate` is unfinished in one user's custody directory (a `rotate:<profile>` journal, rotate.ts):
 * the journal holds the key IAM may still have besides the stored one, and would be lost with custody.
 */
export function unfinishedRotations(userDir: string): string[] {
  return readdirSync(userDir)
    .map((name) => accountOfFileName(name))
    .filter((account) => account?.startsWith('rotate:'))
    .map((account) => account!.slice('rotate:'.length))
    .sort()
}

/** This av's importer; uninstall prefers the installed tree's own copy (root-owned, readable by every user). */
export const IMPORTER = fileURLToPath(new URL('../main/keychain-import-main.js', import.meta.url))

/** Hand one user's items to their keychain. Returns null on success, else why not (no secret in it). */
function returnToUser(uid: number, items: Record<string, string>, world: ReturnWorld): null | string {
  const account = passwdEntry(uid)
  if (!account) return `uid ${uid} has no entry in /etc/passwd`
  const buses = busCandidates(uid, world)
  if (buses.length === 0) return `${account.name} (uid ${uid}) has no running session with a D-Bus session bus`
  const reasons: string[] = []
  for (const bus of buses) {
    const runtimeDir = `/run/user/${uid}`
    const r = spawnSync(process.execPath, [world.importer], {
      cwd: '/',
      encoding: 'utf8',
      env: {
        DBUS_SESSION_BUS_ADDRESS: bus,
        HOME: account.home || '/',
        LOGNAME: account.name,
        PATH: '/usr/bin:/bin',
        USER: account.name,
        ...(world.exists(runtimeDir) ? {XDG_RUNTIME_DIR: runtimeDir} : {}),
      },
      gid: account.gid,
      input: JSON.stringify({items}),
      timeout: 30_000,
      uid,
    })
    if (r.status === 0) return null
    reasons.push(`${bus}: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n').at(-1)}`)
  }

  return `${account.name} (uid ${uid}): ${reasons.join('; ')}`.slice(0, 1000)
}

/**
 * Every user's durable keys from `dir` back into their keychain; throws (having deleted nothing) unless all went.
 * Returns the users whose keys went back, for the uninstall report.
 */
export function returnCustodyKeys(dir: string, world: ReturnWorld): string[] {
  if (!existsSync(dir)) return []
  const returned: string[] = []
  const failures: string[] = []
  for (const name of readdirSync(dir)) {
    const userDir = path.join(dir, name)
    if (!/^\d+$/.test(name) || !statSync(userDir).isDirectory()) continue
    const rotating = unfinishedRotations(userDir)
    if (rotating.length > 0) {
      failures.push(
        `uid ${name}: av rotate of ${rotating.join(', ')} is unfinished (that user runs \`av rotate\` to finish it)`,
      )
      continue
    }

    const items = durableItems(userDir)
    const count = Object.keys(items).length
    if (count === 0) continue
    const why = returnToUser(Number(name), items, world)
    if (why === null) returned.push(`uid ${name} (${count} key${count === 1 ? '' : 's'})`)
    else failures.push(why)
  }

  if (failures.length > 0) {
    throw new AvError(
      'refused',
      `custody holds durable keys that could not be handed back to their owner's keychain, so nothing was uninstalled: ${failures.join(' | ')}`,
      {
        suggestion:
          'Each such user logs in (their keyring unlocked) and you run `sudo av uninstall` again; or the user runs `av restore` first to take their keys out of custody.',
      },
    )
  }

  return returned
}

/** This machine, seen from `sudo av uninstall`. */
export function systemReturnWorld(importer: string = IMPORTER): ReturnWorld {
  return {
    env: process.env,
    importer,
    exists: existsSync,
    pid: process.pid,
    pids: () =>
      readdirSync('/proc')
        .filter((name) => /^\d+$/.test(name))
        .map(Number),
    table: systemProcessTable(process.platform),
  }
}
