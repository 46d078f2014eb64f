import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {describe, it} from 'node:test'

import {CANARY_SECRET, CORPUS} from '../fixtures/aws-corpus.js'
import {runInKeyring, type RunResult} from './support/keyring-sandbox.js'

const BIN = realpathSync(path.resolve('bin/run.js'))
const root = mkdtempSync(path.join(tmpdir(), 'av-migrate-e2e-'))
process.on('exit', () => rmSync(root, {force: true, recursive: true}))

function sha256(file: string): null | string {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex')
  } catch {
    return null
  }
}

/** A temp HOME with ~/.aws/{credentials,config} (mode 0600). */
export function makeHome(credentials: string, config: null | string): string {
  const home = mkdtempSync(path.join(root, 'home-'))
  mkdirSync(path.join(home, '.aws'), {mode: 0o700})
  writeFileSync(path.join(home, '.aws', 'credentials'), credentials, {mode: 0o600})
  if (config !== null) writeFileSync(path.join(home, '.aws', 'config'), config, {mode: 0o600})
  return home
}

function av(home: string, args: string[], options: {noBus?: boolean} = {}): Promise<RunResult> {
  return runInKeyring(home, [process.execPath, BIN, ...args], options)
}

function noCanary(...outputs: string[]): void {
  for (const output of outputs) assert.ok(!output.includes(CANARY_SECRET), `canary in: ${output.slice(0, 300)}`)
}

function awsFiles(home: string): string[] {
  const dir = path.join(home, '.aws')
  return readdirSync(dir).map((f) => readFileSync(path.join(dir, f), 'utf8'))
}

const cases = [CORPUS.find((c) => c.name.startsWith('sso-session'))!, CORPUS.find((c) => c.name.startsWith('Windows'))!]

describe('av migrate / av restore against a real gnome-keyring', () => {
  for (const c of cases) {
    it(`${c.name}: migrate, keys in the keychain only, restore byte-identical`, async () => {
      const home = makeHome(c.credentials, c.config)
      const cred = path.join(home, '.aws', 'credentials')
      const conf = path.join(home, '.aws', 'config')
      const before = [sha256(cred), sha256(conf)]

      const run = await av(home, ['migrate', '--yes', '--json'])
      noCanary(run.stdout, run.stderr)
      assert.equal(run.code, 0, run.stderr)
      const result = JSON.parse(run.stdout) as {migrated: string[]; skipped: Array<{profile: string; reason: string}>}
      assert.deepEqual(result.migrated, c.moves)
      assert.deepEqual(
        result.skipped.map((s) => s.profile),
        c.skips ?? [],
      )
      const config = readFileSync(conf, 'utf8')
      for (const profile of c.moves) {
        assert.ok(config.includes(`credential_process = ${BIN} credential-helper aws --profile ${profile}`))
        const secret = /aws_secret_access_key\s*=\s*(\S+)/g
        const original = [...c.credentials.matchAll(secret)].map((m) => m[1]!)
        // The real keychain answers for this profile, and holds the profile's own key id.
        // eslint-disable-next-line no-await-in-loop -- one profile after the other
        const lookup = await runInKeyring(home, [
          'secret-tool',
          'lookup',
          'service',
          'av',
          'username',
          `aws:${profile}`,
        ])
        assert.equal(lookup.code, 0, lookup.stderr)
        const stored = JSON.parse(lookup.stdout) as {accessKeyId: string; secretAccessKey: string; v: number}
        assert.equal(stored.v, 1)
        assert.ok(original.includes(stored.secretAccessKey))
        for (const text of awsFiles(home)) assert.ok(!text.includes(stored.secretAccessKey))
      }

      if (!c.skips) noCanary(...awsFiles(home))

      const status = await av(home, ['status', '--json'])
      noCanary(status.stdout, status.stderr)
      const report = JSON.parse(status.stdout) as {
        profiles: Array<{profile: string; referencesAv: boolean; source: string}>
      }
      for (const profile of c.moves) {
        assert.deepEqual(
          report.profiles.filter((p) => p.profile === profile).map((p) => [p.source, p.referencesAv]),
          [['store', true]],
        )
      }

      const again = await av(home, ['migrate', '--yes'])
      assert.equal(again.code, 0, again.stderr)
      assert.match(again.stdout, /nothing to migrate/)

      const back = await av(home, ['restore', '--yes'])
      noCanary(back.stdout, back.stderr)
      assert.equal(back.code, 0, back.stderr)
      assert.deepEqual([sha256(cred), sha256(conf)], before)
      for (const profile of c.moves) {
        // eslint-disable-next-line no-await-in-loop -- one profile after the other
        const gone = await runInKeyring(home, ['secret-tool', 'lookup', 'service', 'av', 'username', `aws:${profile}`])
        assert.deepEqual([gone.code, gone.stdout], [1, ''])
      }
    })
  }

  it('no D-Bus: a clear error and both files untouched', async () => {
    const c = CORPUS[0]!
    const home = makeHome(c.credentials, c.config)
    const before = [sha256(path.join(home, '.aws', 'credentials')), sha256(path.join(home, '.aws', 'config'))]
    const run = await av(home, ['migrate', '--yes'], {noBus: true})
    noCanary(run.stdout, run.stderr)
    assert.equal(run.code, 125)
    assert.match(run.stderr, /the OS keychain is unavailable: no D-Bus session bus/)
    assert.match(run.stderr, /dbus-run-session/)
    assert.deepEqual(
      [sha256(path.join(home, '.aws', 'credentials')), sha256(path.join(home, '.aws', 'config'))],
      before,
    )
  })

  it('no terminal and no --yes: refuses with 126; restore likewise, saying what it would write where', async () => {
    const c = CORPUS[0]!
    const home = makeHome(c.credentials, c.config)
    const cred = path.join(home, '.aws', 'credentials')
    const before = sha256(cred)
    const run = await av(home, ['migrate'])
    noCanary(run.stdout, run.stderr)
    assert.equal(run.code, 126)
    assert.match(run.stderr, /no terminal to confirm it; nothing was changed/)
    assert.equal(sha256(cred), before)
    assert.equal((await av(home, ['migrate', '--yes'])).code, 0)
    const after = sha256(cred)
    const restore = await av(home, ['restore'])
    assert.equal(restore.code, 126)
    // oclif wraps long error lines at spaces and prefixes each with ` ›`.
    const flat = restore.stderr.replaceAll(/\s*\n\s*›\s*/g, ' ')
    assert.match(flat, new RegExp(`write the keys of default, dev, prod back into ${cred} \\(a plain file`))
    assert.equal(sha256(cred), after)
  })
})
