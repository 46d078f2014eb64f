import type {SecretStore} from '../../src/lib/store/secret-store.js'

import {storeUnavailable} from '../../src/lib/store/secret-store.js'

/** In-memory secret store for unit tests. `unavailable = true` makes every call fail like a locked keyring. */
export class MemoryStore implements SecretStore {
  readonly items = new Map<string, string>()
  unavailable = false

  async delete(account: string): Promise<boolean> {
    this.check()
    return this.items.delete(account)
  }

  async get(account: string): Promise<null | string> {
    this.check()
    return this.items.get(account) ?? null
  }

  async list(): Promise<string[]> {
    this.check()
    return [...this.items.keys()].sort()
  }

  async probe(): Promise<void> {
    this.check()
  }

  async set(account: string, value: string, _options?: {durable?: boolean}): Promise<void> {
    this.check()
    this.items.set(account, value)
  }

  private check(): void {
    if (this.unavailable) throw storeUnavailable(new Error('Secret Service: no result found'), 'linux')
  }
}
