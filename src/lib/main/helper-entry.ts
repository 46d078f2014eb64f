/**
 * The credential helper as a process of its own: keychain mode's sealed config names `<node>
 * <av>/dist/lib/main/helper-entry.cjs credential-helper aws --profile P`, a CommonJS bundle of helper-main.ts (no ES
 * module loader, and no `env` looking for node on PATH).
 */
import {EXIT} from '../core/errors.js'
import {main} from './helper-main.js'

// No inspector on SIGUSR1: a same-user process could otherwise run code inside the helper.
process.on('SIGUSR1', () => {})
const [command, cli, ...args] = process.argv.slice(2)
if (command === 'credential-helper' && cli === 'aws') {
  // eslint-disable-next-line unicorn/prefer-top-level-await -- built as CommonJS (scripts/bundle.mjs), which has none
  main(args).then((code) => {
    process.exitCode = code
  })
} else {
  process.stderr.write('av credential-helper: this entry runs only `credential-helper aws [--profile P]`\n')
  process.exitCode = EXIT.usage
}
