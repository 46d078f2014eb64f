import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {loadPolicy} from '../../../src/lib/core/policy.js'
import {checkRootOwned, checkRootOwnedPath, type FileFacts} from '../../../src/lib/core/trust.js'
import {dir, factsFs as fakeFs, file} from '../../fakes/trust-fs.js'

describe('trust rule', () => {
  const base = {'/': dir(0, 0o755), '/etc': dir(0, 0o755), '/tmp': dir(0, 0o1777)}
  const cases: Array<[string, Record<string, FileFacts>, string, boolean, RegExp?]> = [
    [
      'root file in root dirs',
      {...base, '/etc/av': dir(0, 0o755), '/etc/av/p.json': file(0, 0o644)},
      '/etc/av/p.json',
      true,
    ],
    [
      'user-owned file',
      {...base, '/etc/av': dir(0, 0o755), '/etc/av/p.json': file(1000, 0o644)},
      '/etc/av/p.json',
      false,
      /uid 1000/,
    ],
    [
      'group-writable file',
      {...base, '/etc/av': dir(0, 0o755), '/etc/av/p.json': file(0, 0o664)},
      '/etc/av/p.json',
      false,
      /writable/,
    ],
    [
      'user-owned parent',
      {...base, '/etc/av': dir(1000, 0o755), '/etc/av/p.json': file(0, 0o644)},
      '/etc/av/p.json',
      false,
      /\/etc\/av is owned/,
    ],
    [
      'root file under sticky /tmp',
      {...base, '/tmp/x': dir(0, 0o755), '/tmp/x/p.json': file(0, 0o644)},
      '/tmp/x/p.json',
      true,
    ],
    [
      'world-writable non-sticky parent',
      {...base, '/tmp/w': dir(0, 0o777), '/tmp/w/p.json': file(0, 0o644)},
      '/tmp/w/p.json',
      false,
      /writable/,
    ],
    ['sticky bit on the file itself does not help', {...base, '/tmp/f': file(0, 0o1666)}, '/tmp/f', false, /writable/],
    ['missing file', base, '/etc/none', false, /does not exist/],
  ]
  for (const [name, facts, target, ok, reason] of cases) {
    it(name, () => {
      const verdict = checkRootOwned(target, fakeFs(facts))
      assert.equal(verdict.ok, ok)
      if (!verdict.ok && reason) assert.match(`${verdict.path} ${verdict.reason}`, reason)
    })
  }

  it('judges a symlink by its target', () => {
    const facts = {
      ...base,
      '/etc/av': dir(0, 0o755),
      '/etc/av/p.json': file(0, 0o644),
      '/home': dir(0, 0o755),
      '/home/u': dir(1000, 0o755),
    }
    assert.equal(checkRootOwned('/home/u/link', fakeFs(facts, {'/home/u/link': '/etc/av/p.json'})).ok, true)
  })
})

describe('policy loading', () => {
  const facts = {
    '/': dir(0, 0o755),
    '/etc': dir(0, 0o755),
    '/etc/av': dir(0, 0o755),
    '/etc/av/policy.json': file(0, 0o644),
    '/home': dir(0, 0o755),
    '/home/u': dir(1000, 0o700),
    '/home/u/p.json': file(1000, 0o600),
  }
  const fs = fakeFs(facts)
  const doc = {
    awsCli: ['/usr/bin/python3', '-I', '/usr/bin/aws'],
    endpoints: ['http://127.0.0.1:*'],
    decisions: {'signed-url': 'approve'},
  }

  it('honours a root-owned policy', () => {
    const loaded = loadPolicy({env: {}, fs, readFile: () => JSON.stringify(doc)})
    assert.equal(loaded.source, '/etc/av/policy.json')
    assert.deepEqual(loaded.policy.awsCli, doc.awsCli)
    assert.deepEqual(loaded.policy.endpoints, doc.endpoints)
    assert.deepEqual(loaded.warnings, [])
  })

  it('uses defaults silently when no policy exists', () => {
    const loaded = loadPolicy({env: {}, fs: fakeFs({'/': dir(0, 0o755)}), readFile: () => '{}'})
    assert.equal(loaded.source, null)
    assert.deepEqual(loaded.warnings, [])
  })

  it('ignores a user-owned AV_POLICY whole, with a warning', () => {
    const loaded = loadPolicy({env: {AV_POLICY: '/home/u/p.json'}, fs, readFile: () => JSON.stringify(doc)})
    assert.equal(loaded.source, null)
    assert.equal(loaded.policy.awsCli, undefined)
    assert.deepEqual(loaded.policy.endpoints, [])
    assert.match(loaded.warnings[0]!, /ignoring policy \/home\/u\/p.json: .*uid 1000/)
  })

  it('ignores an invalid policy whole rather than half-applying it', () => {
    const loaded = loadPolicy({env: {}, fs, readFile: () => JSON.stringify({...doc, decisions: {x: 'maybe'}})})
    assert.equal(loaded.policy.awsCli, undefined)
    assert.match(loaded.warnings[0]!, /decisions.x must be allow, approve or deny/)
  })

  it('ignores a policy that is not JSON', () => {
    const loaded = loadPolicy({env: {}, fs, readFile: () => '{'})
    assert.match(loaded.warnings[0]!, /not valid JSON/)
  })
})

describe('trust rule for a path as written (checkRootOwnedPath)', () => {
  const facts: Record<string, FileFacts> = {
    '/': dir(0, 0o755),
    '/opt': dir(0, 0o755),
    '/opt/av': dir(0, 0o755),
    '/opt/av/bin': dir(0, 0o755),
    '/opt/av/bin/run.js': file(0, 0o755),
    '/usr': dir(0, 0o755),
    '/usr/local': dir(0, 0o755),
    '/usr/local/bin': dir(0, 0o755),
    '/home': dir(0, 0o755),
    '/home/u': dir(1000, 0o755),
    '/home/u/bin': dir(1000, 0o755),
    '/tmp': dir(0, 0o1777),
    '/tmp/av': dir(0, 0o755),
    '/tmp/av/run.js': file(0, 0o755),
  }
  const links = {'/usr/local/bin/av': '/opt/av/bin/run.js', '/home/u/bin/av': '/opt/av/bin/run.js'}
  const fs = fakeFs(facts, links)
  const cases: Array<[string, boolean, RegExp?]> = [
    ['/opt/av/bin/run.js', true],
    ['/usr/local/bin/av', true],
    ['/tmp/av/run.js', true],
    ['/home/u/bin/av', false, /uid 1000/],
    ['bin/run.js', false, /absolute/],
    ['/opt/av/bin/../bin/run.js', false, /absolute/],
    ['/opt//av/bin/run.js', false, /absolute/],
    ['/opt/av/bin/missing.js', false, /does not exist/],
  ]
  for (const [p, ok, reason] of cases) {
    it(`${p} → ${ok ? 'trusted' : 'refused'}`, () => {
      const verdict = checkRootOwnedPath(p, fs)
      assert.equal(verdict.ok, ok)
      if (!verdict.ok && reason) assert.match(verdict.reason, reason)
    })
  }
})
