/**
 * Keychain mode's launcher as a process of its own: the installed `aws` shim (and the `av` shim for `av run -- aws`)
 * start `node <av>/dist/lib/main/run-entry.cjs run -- aws …`, a CommonJS bundle of run-main.ts that skips Node's
 * ES module loader (~10-15 ms a call). The helper accepts it as `node <root-owned script> run …`, like bin/run.js.
 */
import {EXIT} from '../core/errors.js'
import {main} from './run-main.js'

const [command, ...args] = process.argv.slice(2)
if (command === 'run') {
  // eslint-disable-next-line unicorn/prefer-top-level-await -- built as CommonJS (scripts/bundle.mjs), which has none
  main(args).then((code) => {
    process.exitCode = code
  })
} else {
  process.stderr.write('av: this entry runs only `run -- aws …`; run av itself for anything else\n')
  process.exitCode = EXIT.usage
}
