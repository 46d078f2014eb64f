/**
 * Run by `sudo av uninstall` as the user whose keys leave custody (custody-return.ts): `{"items": {account: value}}`
 * on stdin go into this user's own OS keychain, each read back. Prints `{"returned": [accounts]}`; on failure one
 * stderr line (never a value) and exit 1.
 */
import {readFileSync} from 'node:fs'

import {AvError} from '../core/errors.js'
import {importItems} from '../custody/custody-return.js'
import {KeyringStore} from '../store/secret-store.js'

try {
  const doc = JSON.parse(readFileSync(0, 'utf8')) as {items?: unknown}
  if (typeof doc.items !== 'object' || doc.items === null) throw new AvError('bad-input', 'stdin holds no items')
  const answer = await importItems(new KeyringStore(), doc.items as Record<string, string>)
  process.stdout.write(JSON.stringify(answer) + '\n')
} catch (error) {
  const message = error instanceof AvError ? `${error.message}. ${error.suggestion ?? ''}` : 'internal error'
  process.stderr.write(`av keychain import: ${message.trim()}\n`)
  process.exitCode = 1
}
