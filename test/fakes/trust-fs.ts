import type {FileFacts, TrustFs} from '../../src/lib/core/trust.js'

/** File facts for a directory / a regular file owned by `uid` (root group), with permission bits `mode`. */
export const dir = (uid: number, mode = 0o755): FileFacts => ({gid: 0, mode: 0o040_000 | mode, uid})
export const file = (uid: number, mode = 0o755): FileFacts => ({gid: 0, mode: 0o100_000 | mode, uid})

/**
 * The trust rule's file system over a table of facts: `realpath` resolves through `links` (one hop), and `stat`
 * follows links as statSync does. A path in neither table does not exist.
 */
export function factsFs(facts: Record<string, FileFacts>, links: Record<string, string> = {}): TrustFs {
  return {
    realpath(p) {
      const target = links[p] ?? p
      if (!(target in facts)) throw new Error('ENOENT')
      return target
    },
    stat(p) {
      const found = facts[links[p] ?? p]
      if (!found) throw new Error('ENOENT')
      return found
    },
  }
}
