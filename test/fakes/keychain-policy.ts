/**
 * A root-owned, empty policy file (keychain mode, built-in defaults) for tests that start av as a process: naming
 * it in AV_POLICY keeps the machine's own /etc/av/policy.json (custody, when av is installed) out of the test.
 */
import {chmodSync, mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

export function keychainPolicyFile(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'av-keychain-policy-'))
  chmodSync(dir, 0o755)
  const file = path.join(dir, 'policy.json')
  writeFileSync(file, '{}\n', {mode: 0o644})
  return file
}
