/** Whether this process was started to run one entry point, whether the file is tsc's output or a bundle. */
import {realpathSync} from 'node:fs'
import path from 'node:path'
import {pathToFileURL} from 'node:url'

/**
 * True when `node <av>/dist/lib/main/<name>.js` started this process and `url` (the caller's import.meta.url) is
 * that file. In a bundle every module shares the bundle's URL, so the name decides: the root launcher's bundle
 * holds custody-main (it serves releases) but must not run custody-main's own main.
 */
export function startedAs(url: string, name: string): boolean {
  const script = process.argv[1]
  if (!script) return false
  const file = realpathSync(script)
  const base = path.basename(file)
  return (base === `${name}.js` || base === `${name}.cjs`) && url === pathToFileURL(file).href
}
