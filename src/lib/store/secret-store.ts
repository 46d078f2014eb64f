/**
 * av's secret store: the OS keychain (macOS Keychain, Linux Secret Service) through @napi-rs/keyring.
 *
 * Two results must never be confused: "not stored" (null) and "the store cannot be used" (a typed AvError with
 * code `store-unavailable`). On Linux the library would silently fall back to the kernel keyutils store, which
 * loses everything on reboot; every entry here is pinned to the Secret Service instead. A Secret Service with no
 * unlocked default collection answers reads with "nothing here", so `get` alone cannot tell the two apart:
 * callers that need certainty call `probe()` (a write, read back and delete of a marker item) first.
 */
import {createRequire} from 'node:module'

import {AvError} from '../core/errors.js'

export const SERVICE = 'av'

export interface SecretStore {
  /** The item's value, or null when nothing is stored under that account. */
  get(account: string): Promise<null | string>
  /**
   * `durable: false`: the store may skip flushing to disk (root custody then writes and renames without fsync), so
   * a power cut may lose the new value but never leaves a torn one. Only for what is cheap to lose: the audit
   * chain's head, written after its line is already on disk.
   */
  set(account: string, value: string, options?: {durable?: boolean}): Promise<void>
  /** True when an item was deleted, false when there was none. */
  delete(account: string): Promise<boolean>
  /** Accounts of av's items (never their values). */
  list(): Promise<string[]>
  /** Throws `store-unavailable` unless the store can be written and read back now. */
  probe(): Promise<void>
  /** Where the keys are, as a person reads it ("the OS keychain" when absent). */
  readonly label?: string
  /**
   * A store that shows its caller durable items only sealed (root custody, custody-keys.ts): what `get` answers
   * once `value` is stored. Absent: `get` answers the value itself.
   */
  seal?(account: string, value: string): string
  /** Such a store's way to hand the real items out, after the user proves it is them: `get` answers them then. */
  unseal?(accounts: string[]): Promise<void>
}

export const KEYCHAIN_LABEL = 'the OS keychain'

/** Where a store keeps the keys, for messages. */
export function storeLabel(store: SecretStore): string {
  return store.label ?? KEYCHAIN_LABEL
}

const PROBE_ACCOUNT = 'probe'

/** Keychain entries (on Linux each an open D-Bus connection) a store keeps for reuse. */
const MAX_KEPT_ENTRIES = 8

const UNAVAILABLE_HINT_LINUX =
  'Start or unlock your keyring: a desktop session normally does this; headless, run inside `dbus-run-session` ' +
  'with `gnome-keyring-daemon --unlock --components=secrets` (Debian/Ubuntu: apt-get install gnome-keyring dbus).'
const UNAVAILABLE_HINT_MAC = 'Unlock your login keychain (Keychain Access, or `security unlock-keychain`).'

function hint(platform: NodeJS.Platform): string {
  return platform === 'darwin' ? UNAVAILABLE_HINT_MAC : UNAVAILABLE_HINT_LINUX
}

/** Library messages name the platform problem but never a value; keep only their first line, bounded. */
function reasonOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error)
  return text.split('\n')[0]!.slice(0, 200)
}

export function storeUnavailable(cause: unknown, platform: NodeJS.Platform = process.platform): AvError {
  const reason = reasonOf(cause)
  const noBus = /DBUS_SESSION_BUS_ADDRESS|dbus/i.test(reason) && !/no result/i.test(reason)
  const what = noBus
    ? 'no D-Bus session bus, so the Secret Service cannot be reached'
    : 'it is locked, has no default keyring, or refused access'
  return new AvError('store-unavailable', `the OS keychain is unavailable: ${what} (${reason})`, {
    cause,
    suggestion: hint(platform),
  })
}

interface KeyringEntry {
  deleteCredential(): boolean
  getPassword(): null | string
  setPassword(value: string): void
}

interface KeyringModule {
  Entry: new (
    service: string,
    account: string,
    options?: {linux?: {store?: 'keyutils' | 'secret-service'}},
  ) => KeyringEntry
  findCredentials(service: string): Array<{account: string; password: string}>
}

/** The real store. The native module is loaded on first use so that commands that never touch it stay fast. */
export class KeyringStore implements SecretStore {
  private readonly entries = new Map<string, KeyringEntry>()
  private module?: KeyringModule
  private readonly service: string
  private readonly platform: NodeJS.Platform

  constructor(options: {platform?: NodeJS.Platform; service?: string} = {}) {
    this.service = options.service ?? SERVICE
    this.platform = options.platform ?? process.platform
  }

  async delete(account: string): Promise<boolean> {
    return this.withEntry(account, (entry) => entry.deleteCredential())
  }

  async get(account: string): Promise<null | string> {
    return this.withEntry(account, (entry) => entry.getPassword())
  }

  async list(): Promise<string[]> {
    // findCredentials cannot be pinned to a store: only trust it once the Secret Service answered a probe.
    await this.probe()
    const module = await this.load()
    const found = this.call(() => module.findCredentials(this.service))
    return found
      .map((c) => c.account)
      .filter((a) => a !== PROBE_ACCOUNT)
      .sort()
  }

  async probe(): Promise<void> {
    const marker = `probe-${process.pid}-${Date.now()}`
    await this.withEntry(PROBE_ACCOUNT, (entry) => entry.setPassword(marker))
    const back = await this.withEntry(PROBE_ACCOUNT, (entry) => entry.getPassword())
    await this.withEntry(PROBE_ACCOUNT, (entry) => entry.deleteCredential())
    if (back !== marker) throw storeUnavailable(new Error('a test item could not be read back'), this.platform)
  }

  async set(account: string, value: string): Promise<void> {
    await this.withEntry(account, (entry) => entry.setPassword(value))
  }

  private call<T>(fn: () => T): T {
    try {
      return fn()
    } catch (error) {
      throw storeUnavailable(error, this.platform)
    }
  }

  /**
   * Run `op` on the account's entry. Making an entry is most of an access's cost (on Linux it opens a D-Bus
   * connection and a Secret Service session, ~8 ms; the read or write on it ~1 ms), so each account's entry is
   * kept for the life of this store: an audit line reads and then writes its head, and the launcher records twice.
   * Only the connection is kept, never a value: every call asks the keychain again (another process's change is
   * seen at once). A kept entry that fails (the daemon restarted during a long run) is dropped and the call tried
   * once more on a fresh one, as it would have run before entries were kept. Linux only: a macOS entry holds no
   * connection, and trying again there could show a keychain prompt the person just declined a second time.
   */
  private async withEntry<T>(account: string, op: (entry: KeyringEntry) => T): Promise<T> {
    const kept = this.entries.get(account)
    if (kept) {
      try {
        return op(kept)
      } catch {
        this.entries.delete(account)
      }
    }

    const module = await this.load()
    const entry = this.call(() => new module.Entry(this.service, account, {linux: {store: 'secret-service'}}))
    const result = this.call(() => op(entry))
    if (this.platform === 'linux') {
      // A run touches five accounts at most; migrate or restore over many profiles keeps only the latest few open.
      if (this.entries.size >= MAX_KEPT_ENTRIES) this.entries.delete(this.entries.keys().next().value!)
      this.entries.set(account, entry)
    }

    return result
  }

  private async load(): Promise<KeyringModule> {
    if (!this.module) {
      try {
        // require, not import(): the package is CommonJS (main index.js, no exports map, so the same file either
        // way), and Node's ESM wrapper around it costs ~12 ms more per process, paid by every launcher and helper.
        this.module = createRequire(import.meta.url)('@napi-rs/keyring') as KeyringModule
      } catch (error) {
        throw new AvError('store-unavailable', `the keychain library could not be loaded (${reasonOf(error)})`, {
          cause: error,
          suggestion: 'Reinstall av (`npm ci` in a checkout); @napi-rs/keyring ships prebuilt for this platform.',
        })
      }
    }

    return this.module
  }
}
