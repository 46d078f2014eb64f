/**
 * SIGKILL at many points of a real migrate and restore (real keychain, real files, slowed through the lib's
 * seams by test/fixtures/slow-migrate.ts), then the real `bin/run.js`: the state must always be one where every
 * key is either in the credentials file or in the keychain and referenced from config (never lost, never twice
 * in a file), and the re-run must converge: migrate moves everything, restore gives back byte-identical files.
 */
import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {describe, it} from 'node:test'

import {CANARY_SECRET, CORPUS} from '../fixtures/aws-corpus.js'
import {runInKeyring, spawnInKeyring} from './support/keyring-sandbox.js'

const BIN = realpathSync(path.resolve('bin/run.js'))
const FIXTURE = path.resolve('test/fixtures/slow-migrate.ts')
const DELAY_MS = 25
const root = mkdtempSync(path.join(tmpdir(), 'av-migrate-e2e-sigkill-'))
process.on('exit', () => rmSync(root, {force: true, recursive: true}))

const CASE = CORPUS[0]!
const SECRETS = Object.fromEntries(
  [...CASE.credentials.matchAll(/^\[(\w+)][^[]*?aws_secret_access_key = (\S+)/gms)].map((m) => [m[1]!, m[2]!]),
)

function sha256(file: string): null | string {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex')
  } catch {
    return null
  }
}

interface Killed {
  /** The last step the slow run had started when it was killed ('' before the first, 'done' if it finished). */
  step: string
}

/** Start the slow build, SIGKILL it `afterMs` after it is loaded; resolves once it is gone. */
function killDuring(home: string, mode: 'migrate' | 'restore', afterMs: number): Promise<Killed> {
  return new Promise((resolve, reject) => {
    const child = spawnInKeyring(home, [process.execPath, '--import', 'tsx', FIXTURE, String(DELAY_MS), mode], {
      cwd: process.cwd(),
    })
    let out = ''
    let step = ''
    let timer: NodeJS.Timeout | undefined
    child.stdout!.on('data', (d: Buffer) => {
      out += d
      const ready = /^ready (\d+)$/m.exec(out)
      if (ready && !timer) {
        timer = setTimeout(() => {
          try {
            process.kill(Number(ready[1]), 'SIGKILL')
          } catch {}
        }, afterMs)
      }

      for (const line of out.split('\n')) {
        if (line.startsWith('step ')) step = line.slice(5)
        if (line === 'done') step = 'done'
      }
    })
    child.stderr!.resume()
    child.on('error', reject)
    child.on('close', () => {
      clearTimeout(timer)
      resolve({step})
    })
  })
}

/** Where each profile's key is now: in the credentials file, in the keychain, referenced from config. */
async function where(home: string): Promise<Record<string, {inFile: number; referenced: boolean; stored: boolean}>> {
  const credentials = readFileSync(path.join(home, '.aws', 'credentials'), 'utf8')
  let config = ''
  try {
    config = readFileSync(path.join(home, '.aws', 'config'), 'utf8')
  } catch {}

  const items = await runInKeyring(home, ['secret-tool', 'search', '--all', 'service', 'av'])
  const out: Record<string, {inFile: number; referenced: boolean; stored: boolean}> = {}
  for (const [profile, secret] of Object.entries(SECRETS)) {
    assert.ok(!config.includes(secret), 'a key in the config file')
    out[profile] = {
      inFile: credentials.split(secret).length - 1,
      referenced: config.includes(`credential-helper aws --profile ${profile}\n`),
      // secret-tool prints each item's label and secret on stdout (attributes go to stderr).
      stored: items.stdout
        .split('\n[/')
        .some((item) => item.includes(`label = keyring:aws:${profile}@av\n`) && item.includes(secret)),
    }
  }

  return out
}

function assertNothingLost(state: Awaited<ReturnType<typeof where>>, label: string): void {
  for (const [profile, s] of Object.entries(state)) {
    assert.ok(s.inFile <= 1, `${label}: ${profile} written twice into the credentials file`)
    assert.ok(s.inFile === 1 || (s.stored && s.referenced), `${label}: ${profile} lost (${JSON.stringify(s)})`)
  }
}

async function av(home: string, args: string[]) {
  const run = await runInKeyring(home, [process.execPath, BIN, ...args])
  assert.ok(!run.stdout.includes(CANARY_SECRET) && !run.stderr.includes(CANARY_SECRET))
  assert.equal(run.code, 0, run.stderr)
  return run
}

describe('a second migrate while one is running', () => {
  it('is refused by the lock and changes nothing; the first finishes', async () => {
    const home = mkdtempSync(path.join(root, 'home-'))
    mkdirSync(path.join(home, '.aws'), {mode: 0o700})
    writeFileSync(path.join(home, '.aws', 'credentials'), CASE.credentials, {mode: 0o600})
    const first = spawnInKeyring(home, [process.execPath, '--import', 'tsx', FIXTURE, '150', 'migrate'], {
      cwd: process.cwd(),
    })
    let out = ''
    await new Promise<void>((resolve) => {
      first.stdout!.on('data', (d: Buffer) => {
        out += d
        if (out.includes('step ')) resolve()
      })
    })
    const second = await runInKeyring(home, [process.execPath, BIN, 'migrate', '--yes'])
    assert.equal(second.code, 125)
    assert.match(
      second.stderr.replaceAll(/\s*\n\s*›\s*/g, ' '),
      /another av migrate or restore is running \(pid \d+\); this one changed nothing/,
    )
    await new Promise((resolve) => {
      first.on('close', resolve)
    })
    assert.match(out, /\ndone\n/)
    assertNothingLost(await where(home), 'after the first finished')
    await av(home, ['restore', '--yes'])
    assert.equal(readFileSync(path.join(home, '.aws', 'credentials'), 'utf8'), CASE.credentials)
  })
})

describe('SIGKILL at any point, then a re-run converges', () => {
  const home = mkdtempSync(path.join(root, 'home-'))
  mkdirSync(path.join(home, '.aws'), {mode: 0o700})
  const cred = path.join(home, '.aws', 'credentials')
  const conf = path.join(home, '.aws', 'config')
  writeFileSync(cred, CASE.credentials, {mode: 0o600})
  writeFileSync(conf, CASE.config!, {mode: 0o600})
  const original = [sha256(cred), sha256(conf)]

  for (const mode of ['migrate', 'restore'] as const) {
    it(`killing the slow ${mode} at increasing delays`, async () => {
      // Calibrate: how long the slow build takes here, unkilled; then kill it across that span.
      if (mode === 'restore') await av(home, ['migrate', '--yes'])
      const start = Date.now()
      assert.equal((await killDuring(home, mode, 60_000)).step, 'done')
      const span = Date.now() - start
      await av(home, [mode === 'migrate' ? 'restore' : 'migrate', '--yes'])

      const points = mode === 'migrate' ? 9 : 5
      const steps = new Set<string>()
      for (let i = 0; i < points; i++) {
        const afterMs = Math.round((span * (i + 0.5)) / points)
        // eslint-disable-next-line no-await-in-loop -- each kill builds on the state the last one left
        const killed = await killDuring(home, mode, afterMs)
        steps.add(killed.step.replace(/ (of|from|into|in) .*$/, ''))
        const label = `${mode} killed at ${afterMs} ms during "${killed.step}"`
        // eslint-disable-next-line no-await-in-loop
        assertNothingLost(await where(home), label)
        // eslint-disable-next-line no-await-in-loop
        await av(home, [mode, '--yes'])
        if (mode === 'migrate') {
          // eslint-disable-next-line no-await-in-loop
          const state = await where(home)
          for (const [profile, s] of Object.entries(state)) {
            assert.deepEqual(s, {inFile: 0, referenced: true, stored: true}, `${label}: ${profile}`)
          }

          // eslint-disable-next-line no-await-in-loop
          await av(home, ['restore', '--yes'])
        } else {
          assert.deepEqual([sha256(cred), sha256(conf)], original, label)
          // eslint-disable-next-line no-await-in-loop
          await av(home, ['migrate', '--yes'])
        }

        // A temp file the killed run left (it may hold keys) is gone after the re-run.
        assert.deepEqual(readdirSync(path.join(home, '.aws')).sort(), ['config', 'credentials'], label)
      }

      if (mode === 'restore') await av(home, ['restore', '--yes'])
      assert.deepEqual([sha256(cred), sha256(conf)], original)
      // The kills landed in more than one phase (store, config, credentials): they were not all at the start.
      assert.ok(steps.size >= 3, `kills only hit: ${[...steps].join(' | ')}`)
    })
  }
})
