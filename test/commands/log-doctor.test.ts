import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'

import {keychainPolicyFile} from '../fakes/keychain-policy.js'

const RUN = path.resolve('bin/run.js')
const RECORD = 'test/fixtures/record-event.ts'
const CANARY_SECRET = 'avCanarySecret/0000000000000000000000000'

interface Step {
  code: number
  out: string
}

/**
 * Run named shell steps one after another inside one keyring sandbox (a fresh D-Bus session with an unlocked
 * gnome-keyring, HOME = the sandbox), capturing each step's output and exit code.
 */
function runSteps(home: string, steps: Array<[string, string]>): Record<string, Step> {
  const script = steps.map(
    ([name, command]) => `(${command}) >'${home}/${name}.out' 2>&1; echo $? >'${home}/${name}.code'`,
  )
  const result = spawnSync(
    'dbus-run-session',
    [
      '--',
      'sh',
      '-c',
      `echo -n pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null; ${script.join('\n')}`,
    ],
    {
      encoding: 'utf8',
      // Keychain mode, whatever the machine has installed.
      env: {AV_POLICY: keychainPolicyFile(), HOME: home, PATH: process.env.PATH, TMPDIR: tmpdir()},
      timeout: 240_000,
    },
  )
  assert.equal(result.status, 0, result.stderr)
  const out: Record<string, Step> = {}
  for (const [name] of steps) {
    out[name] = {
      code: Number(fs.readFileSync(path.join(home, `${name}.code`), 'utf8')),
      out: fs.readFileSync(path.join(home, `${name}.out`), 'utf8'),
    }
  }

  return out
}

function byId(report: {checks: Array<{id: string; status: string}>}, id: string) {
  return report.checks.find((c) => c.id === id)
}

describe('bin/run.js log, doctor and status in a sandbox HOME', () => {
  const roots: string[] = []

  after(() => {
    for (const root of roots) fs.rmSync(root, {force: true, recursive: true})
  })

  it('log shows, filters and verifies the trail; doctor reports a clean HOME and then a seeded exposure; status names the mode', () => {
    assert.ok(fs.existsSync('dist/commands/log.js'), 'run `npm run build` first')
    const home = fs.mkdtempSync(path.join(tmpdir(), 'av-cmd-'))
    roots.push(home)
    const dir = path.join(home, '.local', 'state', 'av')
    const record = (event: object) => `node --import tsx ${RECORD} '${dir}' '${JSON.stringify(event)}'`
    const credentials = path.join(home, '.aws', 'credentials')
    const steps = runSteps(home, [
      ['r1', record({command: 'aws s3 ls', event: 'release', kind: 'session', profile: 'dev'})],
      ['r2', record({event: 'refusal', profile: 'dev', reason: 'parent-not-runtime'})],
      [
        'r3',
        record({
          command: 'aws ssm get-parameter --name db --with-decryption',
          decision: 'deny',
          event: 'gate',
          profile: 'prod',
        }),
      ],
      ['verify', `node ${RUN} log --verify`],
      ['json', `node ${RUN} log --json`],
      ['table', `node ${RUN} log --profile prod`],
      [
        'follow',
        `node ${RUN} log -f --json --event gate & pid=$!; sleep 2; ${record({event: 'gate', decision: 'allow', profile: 'dev'})} >/dev/null; sleep 1; kill -INT $pid; wait $pid`,
      ],
      ['doctorClean', `node ${RUN} doctor --json`],
      ['tamper', `sed -i 2d '${dir}/audit.jsonl'`],
      ['verifyBroken', `node ${RUN} log --verify`],
      ['verifyBrokenJson', `node ${RUN} log --verify --json`],
      [
        'seed',
        `mkdir -p '${home}/.aws' && printf '[work]\\naws_access_key_id = AKIAAVCANARY0000XXXX\\naws_secret_access_key = ${CANARY_SECRET}\\n' >'${credentials}'`,
      ],
      ['doctorExposed', `node ${RUN} doctor --json`],
      ['doctorHuman', `node ${RUN} doctor`],
      ['status', `node ${RUN} status`],
      ['statusJson', `node ${RUN} status --json`],
    ])

    for (const name of ['r1', 'r2', 'r3']) assert.deepEqual(steps[name], {code: 0, out: 'recorded\n'})
    assert.deepEqual(steps.verify, {code: 0, out: `audit log intact: 3 lines in 1 file(s) under ${dir}\n`})

    const lines = steps
      .json!.out.trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l))
    assert.equal(steps.json!.code, 0)
    assert.deepEqual(
      lines.map((l) => [l.seq, l.event, l.profile]),
      [
        [1, 'release', 'dev'],
        [2, 'refusal', 'dev'],
        [3, 'gate', 'prod'],
      ],
    )
    assert.ok(lines.every((l) => /^[\da-f]{64}$/.test(l.mac) && Array.isArray(l.chain)))

    assert.equal(steps.table!.code, 0)
    assert.match(
      steps.table!.out,
      /^TIME +EVENT +PROFILE +DECISION\/REASON +COMMAND\n\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ {2}gate +prod +deny +aws ssm get-parameter --name db --with-decryption\n$/,
    )

    // -f: the existing gate entry, then the new one as it is written; Ctrl-C ends it cleanly.
    assert.equal(steps.follow!.code, 0, steps.follow!.out)
    assert.deepEqual(
      steps
        .follow!.out.trimEnd()
        .split('\n')
        .map((l) => [JSON.parse(l).seq, JSON.parse(l).decision]),
      [
        [3, 'deny'],
        [4, 'allow'],
      ],
    )

    const clean = JSON.parse(steps.doctorClean!.out)
    assert.equal(steps.doctorClean!.code, 0, steps.doctorClean!.out)
    assert.equal(clean.exposed, false)
    assert.deepEqual(
      clean.checks.filter((c: {status: string}) => c.status === 'fail'),
      [],
    )
    assert.equal(byId(clean, 'secret-store')?.status, 'ok')
    assert.deepEqual(byId(clean, 'audit-chain'), {
      id: 'audit-chain',
      status: 'ok',
      message: 'the audit trail is intact (4 lines)',
    })

    assert.deepEqual(steps.verifyBroken, {
      code: 1,
      out: `audit log broken at audit.jsonl line 2: seq gap: expected 2, found 3 (line(s) deleted)\n(${dir}; lines before it are intact)\n`,
    })
    assert.equal(steps.verifyBrokenJson!.code, 1)
    assert.deepEqual(JSON.parse(steps.verifyBrokenJson!.out), {
      files: ['audit.jsonl'],
      firstBroken: {file: 'audit.jsonl', line: 2, problem: 'seq gap: expected 2, found 3 (line(s) deleted)'},
      lines: 3,
      ok: false,
    })

    const exposed = JSON.parse(steps.doctorExposed!.out)
    assert.equal(steps.doctorExposed!.code, 1)
    assert.equal(exposed.exposed, true)
    assert.deepEqual(byId(exposed, 'plaintext-keys'), {
      id: 'plaintext-keys',
      status: 'fail',
      message: 'plaintext AWS keys are readable by anything running as you: ~/.aws/credentials (credentials): work',
      fix: 'Run `av migrate` to move them into the OS keychain (it removes them from the file after checking the copy).',
    })
    assert.equal(byId(exposed, 'audit-chain')?.status, 'fail')
    assert.equal(steps.doctorHuman!.code, 1)
    assert.match(steps.doctorHuman!.out, /^FAIL {2}plaintext-keys: .*\n {6}fix: Run `av migrate`/m)
    assert.match(steps.doctorHuman!.out, /failure\(s\): something is exposed \(exit 1\)\n$/)
    assert.deepEqual(byId(exposed, 'mode'), {
      id: 'mode',
      status: 'ok',
      message:
        'keychain: an agent running as you can read the keys in your keychain and answer av’s approval prompts. On Linux, `sudo av install` (custody, the default) closes that; then run `av migrate` to move your keys.',
    })

    // No policy here, so keychain mode: status says so first, then each profile.
    assert.deepEqual(steps.status, {
      code: 0,
      out: [
        'mode: keychain (durable keys in your OS keychain)',
        'warning: an agent running as you can read the keys in your keychain and answer av’s approval prompts. On Linux, `sudo av install` (custody, the default) closes that; then run `av migrate` to move your keys.',
        'work: PLAINTEXT FILE',
        `  warning: plaintext keys left in ${credentials} (run \`av migrate --profile work\`)`,
        '',
      ].join('\n'),
    })
    const status = JSON.parse(steps.statusJson!.out)
    assert.equal(steps.statusJson!.code, 0)
    assert.equal(status.mode, 'keychain')
    assert.equal(status.custodyEntry, undefined)
    assert.deepEqual(
      status.profiles.map((p: Record<string, unknown>) => [p.profile, p.source, p.stored, p.keyIn ?? null]),
      [['work', 'plaintext', false, null]],
    )

    for (const step of Object.values(steps)) assert.doesNotMatch(step.out, /avCanarySecret/)
  })
})
