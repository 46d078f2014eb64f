// `av gate test` and `av gate list` through bin/run.js (run `npm run build` first).
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {fileURLToPath} from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const home = mkdtempSync(path.join(tmpdir(), 'av-gate-cmd-'))
after(() => rmSync(home, {force: true, recursive: true}))

function av(...args: string[]) {
  // AV_POLICY names a file that does not exist: no host policy can change the verdicts under test.
  const env = {HOME: home, PATH: process.env.PATH ?? '/usr/bin:/bin', AV_POLICY: path.join(home, 'none.json')}
  const r = spawnSync(process.execPath, [path.join(root, 'bin', 'run.js'), ...args], {encoding: 'utf8', env})
  assert.doesNotMatch(r.stdout + r.stderr, /avCanarySecret/)
  return r
}

describe('av gate test', () => {
  it('prints exactly one JSON object for `-- aws …` and exits 0 on approve', () => {
    const r = av(
      'gate',
      'test',
      '--json',
      '--',
      'aws',
      '--profile',
      'prod',
      'ssm',
      'get-parameter',
      '--name',
      'db',
      '--with',
    )
    assert.equal(r.status, 0, r.stderr)
    const out = JSON.parse(r.stdout)
    assert.deepEqual(Object.keys(out), ['decision', 'category', 'rule', 'reason', 'service', 'operation', 'profile'])
    assert.deepEqual(
      {...out, reason: null},
      {
        category: 'decrypted-secret',
        decision: 'approve',
        operation: 'get-parameter',
        profile: 'prod',
        reason: null,
        rule: 'ssm get-parameter',
        service: 'ssm',
      },
    )
    assert.equal(r.stdout.trim().split('\n').length > 0, true)
    assert.equal(r.stdout.trimEnd().endsWith('}'), true)
  })

  it('splits one string with shell quoting; allow exits 0 too', () => {
    const r = av('gate', 'test', '--json', "aws s3 ls 's3://my bucket/x' --recursive")
    assert.equal(r.status, 0, r.stderr)
    const out = JSON.parse(r.stdout)
    assert.equal(out.decision, 'allow')
    assert.equal(out.category, null)
    assert.equal(out.rule, null)
    assert.equal(out.service, 's3')
    assert.equal(out.operation, 'ls')
    assert.equal(out.profile, 'default')
  })

  it('keeps repeated words and a second -- untouched', () => {
    const r = av(
      'gate',
      'test',
      '--json',
      '--',
      'aws',
      'ssm',
      'get-parameter',
      '--',
      '--name',
      'db',
      '--with',
      '--with',
    )
    assert.equal(r.status, 0, r.stderr)
    assert.equal(JSON.parse(r.stdout).decision, 'approve')
  })

  it('reads env assignments and stops at the first shell operator in the string form', () => {
    const r = av(
      'gate',
      'test',
      '--json',
      'AWS_PROFILE=prod aws ecr get-login-password | docker login --password-stdin',
    )
    assert.equal(r.status, 0, r.stderr)
    const out = JSON.parse(r.stdout)
    assert.equal(out.decision, 'approve')
    assert.equal(out.category, 'password')
    assert.equal(out.profile, 'prod')
  })

  it('human output names decision, category, rule and the parameters that mattered', () => {
    const r = av('gate', 'test', '--', 'aws', 's3', 'presign', 's3://b/k', '--debug')
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /^decision: +approve$/m)
    assert.match(r.stdout, /^category: +signed-url$/m)
    assert.match(r.stdout, /^rule: +s3 presign$/m)
    assert.match(r.stdout, /--debug/)
  })

  it('exits 2 for input that is not an aws command line', () => {
    const r = av('gate', 'test', '--json', '--', 'ls', '-la')
    assert.equal(r.status, 2)
    assert.match(r.stdout + r.stderr, /not an aws command line/)
    const shell = av('gate', 'test', 'echo aws s3 ls | sh')
    assert.equal(shell.status, 2)
  })
})

describe('av gate list', () => {
  it('lists the catalog and the hand rules as JSON, filtered', () => {
    const all = av('gate', 'list', '--json')
    assert.equal(all.status, 0, all.stderr)
    const {rules} = JSON.parse(all.stdout)
    assert.ok(rules.length >= 496 + 5, String(rules.length))
    const signed = JSON.parse(av('gate', 'list', '--json', '--category', 'signed-url', '--confidence', 'high').stdout)
    assert.ok(signed.rules.length > 10)
    assert.ok(
      signed.rules.every(
        (r: {category: string; confidence: string}) => r.category === 'signed-url' && r.confidence === 'high',
      ),
    )
    assert.ok(signed.rules.some((r: {command: string}) => r.command === 's3 presign'))
  })

  it('says where each rule came from: catalog, documentation scan or hand rule (--json and --source)', () => {
    const {rules} = JSON.parse(av('gate', 'list', '--json').stdout) as {
      rules: Array<{command: string; evidence?: string; source: string}>
    }
    const sourceOf = (command: string) => rules.filter((r) => r.command === command).map((r) => r.source)
    assert.deepEqual(sourceOf('secretsmanager get-secret-value'), ['catalog'])
    assert.deepEqual(sourceOf('opsworks-cm create-server'), ['doc-scan'])
    assert.deepEqual(sourceOf('configure *'), ['hand'])
    assert.deepEqual(sourceOf('emr ssh'), ['hand'])
    assert.deepEqual(sourceOf('global --debug'), ['hand'])
    assert.deepEqual([...new Set(rules.map((r) => r.source))].sort(), ['catalog', 'doc-scan', 'hand'])
    const scanned = rules.filter((r) => r.source === 'doc-scan')
    assert.ok(
      scanned.length > 20 && scanned.every((r) => (r.evidence ?? '').startsWith('doc')),
      'doc-scan rows carry evidence',
    )
    const only = JSON.parse(av('gate', 'list', '--json', '--source', 'doc-scan').stdout).rules as typeof rules
    assert.deepEqual(
      only.map((r) => r.command),
      scanned.map((r) => r.command),
    )
  })

  it('groups the human table by source, each under a heading', () => {
    const r = av('gate', 'list')
    assert.equal(r.status, 0, r.stderr)
    const headings = r.stdout
      .split('\n')
      .filter((line) => /^(catalog|documentation scan|hand rules) \(\d+ rules\): /.test(line))
    assert.deepEqual(
      headings.map((h) => h.split(' (')[0]),
      ['catalog', 'documentation scan', 'hand rules'],
    )
    const scan = r.stdout.split('\n\n').find((block) => block.startsWith('documentation scan'))!
    assert.match(
      scan,
      /approve +credential +high +always +cognito-idp describe-identity-provider|approve +credential +medium +always +cognito-idp describe-identity-provider/,
    )
    assert.doesNotMatch(scan, /secretsmanager get-secret-value/)
  })

  it('prints a readable table', () => {
    const r = av('gate', 'list', '--category', 'debug')
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /^DECISION +CATEGORY +CONFIDENCE +CONDITION +COMMAND$/m)
    assert.match(r.stdout, /approve +debug +high +always +global --debug/)
  })
})
