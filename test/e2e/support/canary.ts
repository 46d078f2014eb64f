/**
 * Canary credentials for the e2e suites and the checks that they never leak. Secrets contain `avCanarySecret`
 * so that a grep finds any of them, whatever test made it.
 */
import assert from 'node:assert/strict'
import {lstatSync, readdirSync, readFileSync} from 'node:fs'
import path from 'node:path'

export const CANARY_MARK = 'avCanarySecret'

export interface CanaryKey {
  accessKeyId: string
  secretAccessKey: string
}

/** A canary key pair: `AKIAAVCANARY0000` + 4 uppercase characters, and a secret with characters that need care. */
export function canaryKey(suffix: string): CanaryKey {
  const id = suffix.toUpperCase().padStart(4, '0').slice(-4)
  return {accessKeyId: `AKIAAVCANARY0000${id}`, secretAccessKey: `${CANARY_MARK}/${id}+k9Xq7Zr2Lp4Wm8Tn3Vb6Yc1`}
}

/** Fails when any text holds a canary secret (the mark, or one of the given secrets verbatim). */
export function assertNoSecret(texts: Record<string, string>, secrets: string[] = []): void {
  for (const [where, text] of Object.entries(texts)) {
    assert.ok(!text.includes(CANARY_MARK), `a canary secret appeared in ${where}`)
    for (const s of secrets) assert.ok(!text.includes(s), `a canary secret appeared in ${where}`)
  }
}

/** Every regular file under `dir` (not following links) whose bytes hold the canary mark. */
export function filesWithSecret(dir: string, skip: (file: string) => boolean = () => false): string[] {
  const found: string[] = []
  const walk = (d: string) => {
    let names: string[]
    try {
      names = readdirSync(d)
    } catch {
      return
    }

    for (const name of names) {
      const p = path.join(d, name)
      if (skip(p)) continue
      const s = lstatSync(p, {throwIfNoEntry: false})
      if (!s) continue
      if (s.isDirectory()) walk(p)
      else if (s.isFile() && s.size < 50_000_000 && readFileSync(p).includes(CANARY_MARK)) found.push(p)
    }
  }

  walk(dir)
  return found
}
