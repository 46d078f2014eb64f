// parse-argv.ts against the AWS CLI's own parsers. The expectations were produced by the installed CLI
// (scripts/gate-oracle.py over test/fixtures/gate-oracle-argvs.json: 202 hand-written tricky argvs, then 114 from a
// seeded fuzzer over catalog commands — random prefixes, both flag forms, a global option at a random place);
// test/e2e re-runs the oracle live.
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import path from 'node:path'
import {describe, it} from 'node:test'
import {fileURLToPath} from 'node:url'

import {specFromOptions} from '../../../src/lib/gate/argparse.js'
import {awsCommandTree} from '../../../src/lib/gate/aws-commands.js'
import {parseAwsArgv, type ParsedCommand} from '../../../src/lib/gate/parse-argv.js'

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures')
const argvs = JSON.parse(readFileSync(path.join(fixtures, 'gate-oracle-argvs.json'), 'utf8')) as string[][]
const expected = JSON.parse(readFileSync(path.join(fixtures, 'gate-oracle-expected.json'), 'utf8')) as OracleResult[]

/** What the oracle reports for one argv (scripts/gate-oracle.py). */
export interface OracleResult {
  globals: Record<string, unknown>
  help: boolean
  params: Record<string, unknown>
  path: string[]
  rejected: boolean
}

const globalSpec = specFromOptions(awsCommandTree().globals)
const norm = (v: unknown): unknown => (Array.isArray(v) ? v.map(String) : typeof v === 'boolean' ? v : String(v))

/** The parse in the oracle's terms: parameters by their destination, as the CLI would hold them. */
export function asOracle(p: ParsedCommand): OracleResult {
  const globals: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(p.globals)) {
    const action = globalSpec.options.get(`--${name}`)!
    globals[action.key] = action.kind === '~' ? false : norm(value)
  }

  const params: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(p.params)) if (!p.fromInput.includes(key)) params[key] = norm(value)
  const help = p.noCall === 'help' || (p.noCall?.startsWith('aws --version') ?? false)
  const rejected =
    p.problems.length > 0 ||
    p.unknownOptions.length > 0 ||
    (p.service !== null && !p.knownService) ||
    (p.knownService && !p.knownCommand && !help) ||
    (p.noCall?.startsWith('no ') ?? false)
  return {globals, help, params, path: p.path, rejected}
}

describe('parse agrees with the AWS CLI (oracle)', () => {
  assert.equal(argvs.length, expected.length)
  for (const [i, argv] of argvs.entries()) {
    const want = expected[i]!
    it(`aws ${argv.join(' ')}`, () => {
      const got = asOracle(parseAwsArgv(argv, {env: {}, home: '/nonexistent'}))
      assert.equal(got.help, want.help, 'help')
      // --version and help end the CLI before anything else is checked.
      if (!want.help) assert.equal(got.rejected, want.rejected, 'rejected')
      if (want.rejected) return
      assert.deepEqual(got.path, want.path, 'path')
      if (want.help) return
      assert.deepEqual(got.globals, norm2(want.globals), 'globals')
      assert.deepEqual(got.params, norm2(want.params), 'params')
    })
  }
})

function norm2(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, norm(v)]))
}
