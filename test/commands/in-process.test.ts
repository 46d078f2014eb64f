/**
 * Commands run in this process with a fake world (memory store, temp HOME, fixed clock, the policy the test names):
 * flags parsed by oclif, the command's own output and exit code, and nothing of the machine's own install read.
 */
import assert from 'node:assert/strict'
import {readFileSync, rmSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {after, describe, it} from 'node:test'

import Approve from '../../src/commands/approve.js'
import GateTest from '../../src/commands/gate/test.js'
import Migrate from '../../src/commands/migrate.js'
import SessionClear from '../../src/commands/session/clear.js'
import Status from '../../src/commands/status.js'
import {EXIT} from '../../src/lib/core/errors.js'
import {profileAccount} from '../../src/lib/store/credentials.js'
import {type FakeWorld, fakeWorld} from '../fakes/world.js'
import {type CommandRun, runCommand} from './support/run-command.js'

const KEY_ID = 'AKIAAVCANARY0000INPR'
const SECRET = 'avCanarySecret/in-process+0000000000000000'
const worlds: FakeWorld[] = []

function world(options: Parameters<typeof fakeWorld>[0] = {}): FakeWorld {
  const w = fakeWorld(options)
  worlds.push(w)
  return w
}

function credentialsFile(w: FakeWorld): string {
  return path.join(w.home, '.aws', 'credentials')
}

function assertNoCanary(run: CommandRun, w: FakeWorld): void {
  const seen = [JSON.stringify(run.result ?? null), JSON.stringify(run.error ?? null)]
  seen.push(w.stdout.join(''), w.stderr.join(''), JSON.stringify(w.events))
  for (const text of seen) assert.doesNotMatch(text, /avCanarySecret/)
}

describe('commands in-process, with a fake world', () => {
  after(() => {
    for (const w of worlds) rmSync(w.home, {force: true, recursive: true})
  })

  it('migrate --yes --json moves the key into the world’s store and leaves a credential_process reference', async () => {
    const w = world()
    writeFileSync(credentialsFile(w), `[default]\naws_access_key_id = ${KEY_ID}\naws_secret_access_key = ${SECRET}\n`, {
      mode: 0o600,
    })
    const run = await runCommand(Migrate, ['--yes', '--json'], w.ctx)
    assert.equal(run.exit, 0, JSON.stringify(run.error))
    assert.deepEqual((run.result as {migrated: string[]}).migrated, ['default'])
    assert.equal(JSON.parse(w.stdout.join('')).migrated[0], 'default')
    assert.match(w.store.items.get(profileAccount('default')) ?? '', new RegExp(KEY_ID))
    assert.doesNotMatch(readFileSync(credentialsFile(w), 'utf8'), /avCanarySecret/)
    assert.match(readFileSync(path.join(w.home, '.aws', 'config'), 'utf8'), /credential_process = /)
    assert.ok(
      w.events.some((e) => e.event === 'migrate'),
      JSON.stringify(w.events),
    )
    assertNoCanary(run, w)
  })

  it('status --json, after migrate --profile default, tells the migrated profile from the plaintext one', async () => {
    const w = world()
    const pair = `aws_access_key_id = ${KEY_ID}\naws_secret_access_key = ${SECRET}\n`
    writeFileSync(credentialsFile(w), `[default]\n${pair}[plain]\n${pair}`, {mode: 0o600})
    assert.equal((await runCommand(Migrate, ['--yes', '--profile', 'default', '--json'], w.ctx)).exit, 0)
    w.stdout.length = 0
    const run = await runCommand(Status, ['--json'], w.ctx)
    assert.equal(run.exit, 0, JSON.stringify(run.error))
    const report = JSON.parse(w.stdout.join('')) as {
      mode: string
      profiles: Array<{profile: string; referencesAv: boolean; source: string; stored: boolean | null}>
    }
    assert.equal(report.mode, 'keychain')
    const byName = Object.fromEntries(report.profiles.map((p) => [p.profile, p]))
    assert.deepEqual(
      [byName.default?.source, byName.default?.stored, byName.default?.referencesAv],
      ['store', true, true],
    )
    assert.deepEqual([byName.plain?.source, byName.plain?.stored], ['plaintext', false])
    assertNoCanary(run, w)
  })

  it('gate test decides with the world’s policy: a policy decision turns an allowed command into a denied one', async () => {
    const argv = ['--json', '--', 'aws', 's3', 'ls']
    const openWorld = world()
    const open = await runCommand(GateTest, argv, openWorld.ctx)
    assert.equal(open.exit, 0, JSON.stringify(open.error))
    assert.equal(JSON.parse(openWorld.stdout.join('')).decision, 'allow')
    const closedWorld = world({policy: {decisions: {'s3 ls': 'deny'}}})
    await runCommand(GateTest, argv, closedWorld.ctx)
    assert.equal(JSON.parse(closedWorld.stdout.join('')).decision, 'deny')
  })

  it('session clear drops the cached sessions from the world’s store and keeps the durable key', async () => {
    const w = world()
    const durable = JSON.stringify({accessKeyId: KEY_ID, schema: 1, secretAccessKey: SECRET})
    await w.store.set(profileAccount('default'), durable)
    await w.store.set('session:default', '{"cached":true}')
    const run = await runCommand(SessionClear, ['--json'], w.ctx)
    assert.equal(run.exit, 0, JSON.stringify(run.error))
    assert.deepEqual((run.result as {cleared: string[]}).cleared, ['session:default'])
    assert.deepEqual([...w.store.items.keys()], [profileAccount('default')])
    assertNoCanary(run, w)
  })

  it('approve in keychain mode refuses with exit 2 and one "Try this:" line, through the one formatter', async () => {
    const run = await runCommand(Approve, [], world().ctx)
    assert.equal(run.exit, EXIT.usage)
    assert.match(run.error!.message, /av approve needs custody mode/)
    assert.equal(run.error!.suggestions.length, 1)
  })

  it('an unknown flag is a usage error (exit 2), not a crash', async () => {
    const run = await runCommand(Status, ['--no-such-flag'], world().ctx)
    assert.equal(run.exit, EXIT.usage)
    assert.match(run.error!.message, /no-such-flag/)
  })
})
