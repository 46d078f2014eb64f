import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'

import {AUDIT_HEAD_ACCOUNT, AUDIT_KEY_ACCOUNT, GENESIS, sha256Hex} from '../../../src/lib/audit/audit-chain.js'
import {AUDIT_LOCK} from '../../../src/lib/audit/audit-lock.js'
import {AUDIT_FILE} from '../../../src/lib/audit/audit-rotation.js'
import {secretKindsIn} from '../../../src/lib/audit/audit-scrub.js'
import {verifyAuditLog} from '../../../src/lib/audit/audit-verify.js'
import {type AuditFs, FileAuditLog, procProcessChain} from '../../../src/lib/audit/audit.js'
import {AvError} from '../../../src/lib/core/errors.js'
import {MemoryStore} from '../../fakes/memory-store.js'

const CANARY_SECRET = 'avCanarySecret/AbCdEfGhIjKlMnOpQrStUv123'
const roots: string[] = []
function cleanup(): void {
  for (const root of roots.splice(0)) fs.rmSync(root, {force: true, recursive: true})
}

function tempDir(): string {
  const root = fs.mkdtempSync(path.join(tmpdir(), 'av-audit-'))
  roots.push(root)
  return path.join(root, 'state', 'av')
}

const T0 = Date.parse('2026-11-28T10:00:00Z')

async function writeLog(count: number, options: {maxBytes?: number; keep?: number} = {}) {
  const dir = tempDir()
  const store = new MemoryStore()
  let t = T0
  const tick = () => {
    t += 1000
    return t
  }

  const log = new FileAuditLog(dir, tick, {store, ...options})
  for (let i = 1; i <= count; i++) {
    // eslint-disable-next-line no-await-in-loop -- order is the point
    await log.record({event: 'release', kind: 'durable', n: i, profile: `p${i % 3}`})
  }

  return {dir, log, store}
}

function file(dir: string): string {
  return path.join(dir, AUDIT_FILE)
}

function fileLines(file: string): string[] {
  return fs.readFileSync(file, 'utf8').split('\n').slice(0, -1)
}

function writeLines(file: string, lines: string[]): void {
  fs.writeFileSync(file, lines.map((l) => l + '\n').join(''))
}

describe('audit log: writing', () => {
  after(cleanup)

  it('writes one chained, keyed JSON line per event, 0600 in a 0700 dir, and keeps the head in the store', async () => {
    const {dir, store} = await writeLog(3)
    const file = path.join(dir, AUDIT_FILE)
    assert.equal(fs.statSync(file).mode & 0o777, 0o600)
    assert.equal(fs.statSync(dir).mode & 0o777, 0o700)
    const lines = fileLines(file)
    assert.equal(lines.length, 3)
    const parsed = lines.map((l) => JSON.parse(l))
    assert.deepEqual(
      parsed.map((p) => [p.time, p.seq, p.event, p.pid, p.n]),
      [
        ['2026-11-28T10:00:01.000Z', 1, 'release', process.pid, 1],
        ['2026-11-28T10:00:02.000Z', 2, 'release', process.pid, 2],
        ['2026-11-28T10:00:03.000Z', 3, 'release', process.pid, 3],
      ],
    )
    assert.equal(parsed[0].prev, GENESIS)
    assert.equal(parsed[1].prev, sha256Hex(lines[0]!))
    assert.equal(parsed[2].prev, sha256Hex(lines[1]!))
    for (const p of parsed) assert.match(p.mac, /^[\da-f]{64}$/)
    assert.equal(Buffer.from((await store.get(AUDIT_KEY_ACCOUNT))!, 'base64').length, 32)
    assert.deepEqual(JSON.parse((await store.get(AUDIT_HEAD_ACCOUNT))!), {seq: 3, hash: sha256Hex(lines[2]!)})
    assert.deepEqual(await verifyAuditLog(dir, store), {files: [AUDIT_FILE], lines: 3, ok: true})
  })

  it('reads the chain key from the store once per log, the head on every line; the head is written unflushed', async () => {
    const store = new MemoryStore()
    const calls: string[] = []
    const get = store.get.bind(store)
    const set = store.set.bind(store)
    store.get = async (account) => {
      calls.push(`get ${account}`)
      return get(account)
    }

    store.set = async (account, value, options) => {
      calls.push(`set ${account} ${JSON.stringify(options)}`)
      return set(account, value)
    }

    const log = new FileAuditLog(tempDir(), () => T0, {store})
    await log.record({event: 'gate'})
    await log.record({event: 'run'})
    assert.deepEqual(calls, [
      `get ${AUDIT_KEY_ACCOUNT}`,
      `set ${AUDIT_KEY_ACCOUNT} undefined`,
      `get ${AUDIT_HEAD_ACCOUNT}`,
      `set ${AUDIT_HEAD_ACCOUNT} {"durable":false}`,
      `get ${AUDIT_HEAD_ACCOUNT}`,
      `set ${AUDIT_HEAD_ACCOUNT} {"durable":false}`,
    ])
  })

  it('tightens an existing state dir to 0700', async () => {
    const dir = tempDir()
    fs.mkdirSync(dir, {mode: 0o755, recursive: true})
    fs.chmodSync(dir, 0o755)
    await new FileAuditLog(dir, () => T0, {store: new MemoryStore()}).record({event: 'gate'})
    assert.equal(fs.statSync(dir).mode & 0o777, 0o700)
  })

  it('takes the process chain from the caller, or from the injected seam', async () => {
    const dir = tempDir()
    const seen: number[] = []
    const log = new FileAuditLog(dir, () => T0, {
      pid: 4242,
      processChain(pid) {
        seen.push(pid)
        return [
          {name: 'node', pid},
          {name: 'aws', pid: 4000},
        ]
      },
      store: new MemoryStore(),
    })
    await log.record({event: 'refusal', reason: 'token-missing'})
    await log.record({chain: [{name: 'bash', pid: 1}], event: 'gate', profile: 'dev'})
    const [a, b] = fileLines(path.join(dir, AUDIT_FILE)).map((l) => JSON.parse(l))
    assert.deepEqual(seen, [4242])
    assert.deepEqual(a.chain, [
      {name: 'node', pid: 4242},
      {name: 'aws', pid: 4000},
    ])
    assert.equal(a.pid, 4242)
    assert.deepEqual(b.chain, [{name: 'bash', pid: 1}])
  })

  it('reads a /proc chain: names with spaces and parentheses, stops at pid 1', () => {
    const stats: Record<string, string> = {
      '/proc/1/stat': '1 (systemd) S 0 1 1 0',
      '/proc/30/stat': '30 (bash) S 1 30 30 0',
      '/proc/40/stat': '40 (my (odd) name) S 30 40 30 0',
    }
    const read = (p: string) => {
      if (!(p in stats)) throw new Error('ENOENT')
      return stats[p]!
    }

    assert.deepEqual(procProcessChain(40, read), [
      {name: 'my (odd) name', pid: 40},
      {name: 'bash', pid: 30},
      {name: 'systemd', pid: 1},
    ])
    assert.ok(procProcessChain(process.pid).some((link) => link.pid === process.pid))
  })

  it('ignores caller values for seq, prev, mac and time', async () => {
    const dir = tempDir()
    const store = new MemoryStore()
    const log = new FileAuditLog(dir, () => T0, {store})
    await log.record({event: 'gate', mac: 'x', prev: 'y', seq: 99, time: 'then'})
    const [line] = fileLines(path.join(dir, AUDIT_FILE)).map((l) => JSON.parse(l))
    assert.equal(line.seq, 1)
    assert.equal(line.prev, GENESIS)
    assert.equal(line.time, '2026-11-28T10:00:00.000Z')
    assert.ok((await verifyAuditLog(dir, store)).ok)
  })

  it('rotates by size, keeps N files and carries the chain across them', async () => {
    const {dir, store} = await writeLog(40, {keep: 3, maxBytes: 1500})
    const names = fs
      .readdirSync(dir)
      .filter((n) => n.endsWith('.jsonl'))
      .sort()
    assert.deepEqual(names, ['audit.1.jsonl', 'audit.2.jsonl', 'audit.3.jsonl', 'audit.jsonl'])
    for (const name of names) assert.ok(fs.statSync(path.join(dir, name)).size <= 1500, name)
    const older = fileLines(path.join(dir, 'audit.1.jsonl'))
    const [first] = fileLines(path.join(dir, AUDIT_FILE)).map((l) => JSON.parse(l))
    assert.equal(first.prev, sha256Hex(older.at(-1)!))
    assert.equal(first.seq, JSON.parse(older.at(-1)!).seq + 1)
    const result = await verifyAuditLog(dir, store, {keep: 3})
    assert.equal(result.ok, true, JSON.stringify(result.firstBroken))
    assert.equal(JSON.parse(fileLines(path.join(dir, AUDIT_FILE)).at(-1)!).seq, 40)
    assert.ok(result.lines < 40, 'the oldest file was dropped')
  })

  it('chains on after a torn last line: the fragment is flagged, the new line stays whole', async () => {
    const {dir, log, store} = await writeLog(2)
    fs.appendFileSync(path.join(dir, AUDIT_FILE), '{"time":"torn')
    await log.record({event: 'gate'})
    const lines = fileLines(path.join(dir, AUDIT_FILE))
    assert.equal(lines.length, 4)
    assert.equal(JSON.parse(lines[3]!).seq, 3)
    assert.deepEqual((await verifyAuditLog(dir, store)).firstBroken, {
      file: AUDIT_FILE,
      line: 3,
      problem: 'not an audit line (unparsable or without seq)',
    })
  })

  it('breaks a stale lock left by a dead process, and waits (bounded) for a live one', async () => {
    const dir = tempDir()
    fs.mkdirSync(dir, {recursive: true})
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {encoding: 'utf8'})
    fs.writeFileSync(path.join(dir, AUDIT_LOCK), `${dead.stdout} deadbeef`)
    const store = new MemoryStore()
    await new FileAuditLog(dir, () => T0, {store}).record({event: 'gate'})
    assert.equal(fileLines(path.join(dir, AUDIT_FILE)).length, 1)
    assert.equal(fs.existsSync(path.join(dir, AUDIT_LOCK)), false)

    fs.writeFileSync(path.join(dir, AUDIT_LOCK), `${process.pid} cafe`)
    const started = Date.now()
    await assert.rejects(
      new FileAuditLog(dir, () => T0, {lockTimeoutMs: 200, store}).record({event: 'gate'}),
      (error: unknown) => error instanceof AvError && error.code === 'audit-failed' && /locked/.test(error.message),
    )
    assert.ok(Date.now() - started < 2000)
    assert.equal(fileLines(path.join(dir, AUDIT_FILE)).length, 1)
  })

  it('serialises concurrent records from one process into one chain', async () => {
    const dir = tempDir()
    const store = new MemoryStore()
    const log = new FileAuditLog(dir, () => T0, {store})
    await Promise.all(Array.from({length: 15}, (_, i) => log.record({event: 'release', n: i})))
    const seqs = fileLines(path.join(dir, AUDIT_FILE)).map((l) => JSON.parse(l).seq)
    assert.deepEqual(
      seqs,
      Array.from({length: 15}, (_, i) => i + 1),
    )
    assert.ok((await verifyAuditLog(dir, store)).ok)
  })
})

describe('audit log: never a secret', () => {
  after(cleanup)

  const cases: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ['a secret-named field', {secretAccessKey: CANARY_SECRET}, 'secretAccessKey', /^\[redacted:secret-field]$/],
    ['a token-named field', {token: 'short'}, 'token', /^\[redacted:secret-field]$/],
    [
      'an AWS secret key inside a command',
      {command: `aws configure set aws_secret_access_key ${CANARY_SECRET.slice(0, 40)}`},
      'command',
      /^aws configure set aws_secret_access_key \[redacted:aws-secret-key]$/,
    ],
    [
      'a session token',
      {note: 'IQoJb3JpZ2luX2VjEXAMPLE' + 'avCanarySecret'.repeat(10)},
      'note',
      /^\[redacted:aws-session-token]$/,
    ],
    [
      'an av run token',
      {env: {AV_TOKEN_COPY: 'eyJ2IjoxLCJwcm9maWxlIjoiZGV2In0.avCanarySecretMacPart_0123456789'}},
      'env.AV_TOKEN_COPY',
      /^\[redacted:av-token]$/,
    ],
    [
      'a presigned URL signature',
      {url: 'https://b.s3.amazonaws.com/k?X-Amz-Signature=avCanarySecret0123&X-Amz-Expires=60'},
      'url',
      /X-Amz-Signature=\[redacted:signature]&X-Amz-Expires=60/,
    ],
  ]
  for (const [name, fields, at, expected] of cases) {
    it(`refuses ${name}`, async () => {
      const dir = tempDir()
      await new FileAuditLog(dir, () => T0, {store: new MemoryStore()}).record({event: 'gate', ...fields})
      const text = fs.readFileSync(path.join(dir, AUDIT_FILE), 'utf8')
      assert.doesNotMatch(text, /avCanarySecret/)
      const line = JSON.parse(text)
      let value = line
      for (const k of at.split('.')) value = value[k]
      assert.match(value, expected)
      assert.deepEqual(line.redacted, [at])
    })
  }

  it('refuses a real-format av run token whole, wherever it appears', async () => {
    const payload = Buffer.from(
      JSON.stringify({
        v: 1,
        launcherPid: 4242,
        launcherStart: '123456',
        profile: 'dev',
        argvHash: sha256Hex('a'),
        configHash: sha256Hex('b'),
        issued: T0,
        expires: T0 + 3_600_000,
      }),
    ).toString('base64url')
    const mac = Buffer.from('avCanarySecret-mac-0123456789abcdef').toString('base64url')
    const token = `v1.${payload}.${mac}`
    const dir = tempDir()
    await new FileAuditLog(dir, () => T0, {store: new MemoryStore()}).record({
      detail: `token AV_RUN_TOKEN=${token} was refused`,
      event: 'refusal',
      reason: 'token-expired',
    })
    const text = fs.readFileSync(path.join(dir, AUDIT_FILE), 'utf8')
    assert.ok(!text.includes(mac) && !text.includes(payload))
    assert.equal(JSON.parse(text).detail, 'token AV_RUN_TOKEN=[redacted:av-token] was refused')
  })

  it('keeps descriptive fields: the kind of credentials released, reason codes, hashes', async () => {
    const dir = tempDir()
    const fields = {
      argvHash: sha256Hex('x'),
      cached: false,
      credentials: 'session',
      profile: 'dev',
      reason: 'token-expired',
    }
    await new FileAuditLog(dir, () => T0, {store: new MemoryStore()}).record({event: 'release', ...fields})
    const line = JSON.parse(fs.readFileSync(path.join(dir, AUDIT_FILE), 'utf8'))
    assert.deepEqual(
      {...line, chain: undefined, mac: undefined, pid: undefined, prev: undefined, seq: undefined, time: undefined},
      {
        ...fields,
        chain: undefined,
        event: 'release',
        mac: undefined,
        pid: undefined,
        prev: undefined,
        seq: undefined,
        time: undefined,
      },
    )
  })

  it('keeps harmless values: hashes, key ids, ARNs, commands', () => {
    for (const harmless of [
      sha256Hex('x'),
      'AKIAAVCANARY0000XXXX',
      'arn:aws:iam::123456789012:role/Admin',
      'aws s3 ls s3://my-bucket --profile dev',
      'da39a3ee5e6b4b0d3255bfef95601890afd80709',
    ]) {
      assert.deepEqual(secretKindsIn(harmless), [], harmless)
    }
  })
})

function failing(call: keyof AuditFs): AuditFs {
  return {
    ...fs,
    [call]() {
      throw Object.assign(new Error(`EIO: i/o error, ${call}`), {code: 'EIO'})
    },
  } as AuditFs
}

describe('audit log: record before release', () => {
  after(cleanup)

  for (const call of ['fsyncSync', 'writeSync', 'mkdirSync'] as const) {
    it(`rejects with audit-failed when ${call} fails, and moves no chain head`, async () => {
      const dir = tempDir()
      const store = new MemoryStore()
      await assert.rejects(
        new FileAuditLog(dir, () => T0, {fs: failing(call), store}).record({event: 'release', profile: 'dev'}),
        (error: unknown) => {
          assert.ok(error instanceof AvError)
          assert.equal(error.code, 'audit-failed')
          assert.match(error.message, /cannot be written \(EIO: i\/o error/)
          assert.match(error.suggestion ?? '', /refuses to release credentials it cannot record/)
          return true
        },
      )
      assert.equal(await store.get(AUDIT_HEAD_ACCOUNT), null)
    })
  }

  it('still records while the keychain is unavailable: unkeyed, reported by verify until a keyed line covers it', async () => {
    const {dir, log, store} = await writeLog(3)
    store.unavailable = true
    await log.record({event: 'refusal', profile: 'dev', reason: 'store-unavailable'})
    await log.record({event: 'refusal', profile: 'dev', reason: 'store-unavailable'})
    const lines = fileLines(file(dir)).map((l) => JSON.parse(l))
    assert.deepEqual(
      lines.map((l) => [l.seq, l.unkeyed, typeof l.mac]),
      [
        [1, undefined, 'string'],
        [2, undefined, 'string'],
        [3, undefined, 'string'],
        [4, 'store-unavailable', 'undefined'],
        [5, 'store-unavailable', 'undefined'],
      ],
    )
    store.unavailable = false
    assert.deepEqual(await verifyAuditLog(dir, store), {
      files: [AUDIT_FILE],
      lines: 5,
      ok: true,
      unprotected: {count: 2, first: {file: AUDIT_FILE, line: 4}},
    })
    await log.record({event: 'release', profile: 'dev'})
    assert.deepEqual(await verifyAuditLog(dir, store), {files: [AUDIT_FILE], lines: 6, ok: true})
    // Covered now: editing an unkeyed line breaks the keyed line after it.
    const text = fileLines(file(dir))
    text[3] = text[3]!.replace('"profile":"dev"', '"profile":"prod"')
    writeLines(file(dir), text)
    assert.deepEqual((await verifyAuditLog(dir, store)).firstBroken, {
      file: AUDIT_FILE,
      line: 5,
      problem: 'prev mismatch: the line before it was changed or removed',
    })
  })

  it('a log written without any store is chained but wholly unprotected', async () => {
    const dir = tempDir()
    const log = new FileAuditLog(dir, () => T0)
    await log.record({event: 'migrate'})
    await log.record({event: 'restore'})
    assert.deepEqual(
      fileLines(file(dir)).map((l) => JSON.parse(l).unkeyed),
      ['no-store', 'no-store'],
    )
    assert.deepEqual(await verifyAuditLog(dir, new MemoryStore()), {
      files: [AUDIT_FILE],
      lines: 2,
      ok: true,
      unprotected: {count: 2, first: {file: AUDIT_FILE, line: 1}},
    })
  })
})

describe('audit log: verify finds each kind of tampering', () => {
  after(cleanup)

  it('an edited line: mac mismatch at that line', async () => {
    const {dir, store} = await writeLog(10)
    const lines = fileLines(file(dir))
    lines[3] = lines[3]!.replace('"profile":"p1"', '"profile":"p2"')
    writeLines(file(dir), lines)
    assert.deepEqual((await verifyAuditLog(dir, store)).firstBroken, {
      file: AUDIT_FILE,
      line: 4,
      problem: 'mac mismatch: the line was edited or forged',
    })
  })

  it('a deleted line: a seq gap where the next line is', async () => {
    const {dir, store} = await writeLog(10)
    const lines = fileLines(file(dir))
    lines.splice(4, 1)
    writeLines(file(dir), lines)
    assert.deepEqual((await verifyAuditLog(dir, store)).firstBroken, {
      file: AUDIT_FILE,
      line: 5,
      problem: 'seq gap: expected 5, found 6 (line(s) deleted)',
    })
  })

  it('two lines swapped: out of order at the first of them', async () => {
    const {dir, store} = await writeLog(10)
    const lines = fileLines(file(dir))
    ;[lines[5], lines[6]] = [lines[6]!, lines[5]!]
    writeLines(file(dir), lines)
    assert.deepEqual((await verifyAuditLog(dir, store)).firstBroken, {
      file: AUDIT_FILE,
      line: 6,
      problem: 'out of order: expected seq 6, found 7 (lines reordered)',
    })
  })

  it('a truncated tail: the store head is ahead of the file', async () => {
    const {dir, store} = await writeLog(10)
    writeLines(file(dir), fileLines(file(dir)).slice(0, 7))
    assert.deepEqual((await verifyAuditLog(dir, store)).firstBroken, {
      file: AUDIT_FILE,
      line: 8,
      problem: "truncated: the log ends at seq 7 but the secret store's chain head is at seq 10",
    })
  })

  it('a truncated tail stays visible after the next record', async () => {
    const {dir, log, store} = await writeLog(10)
    writeLines(file(dir), fileLines(file(dir)).slice(0, 7))
    await log.record({event: 'gate'})
    assert.deepEqual((await verifyAuditLog(dir, store)).firstBroken, {
      file: AUDIT_FILE,
      line: 8,
      problem: 'seq gap: expected 8, found 11 (line(s) deleted)',
    })
  })

  it('the last line replaced by a forged one without the key: mac mismatch', async () => {
    const {dir, store} = await writeLog(5)
    const lines = fileLines(file(dir))
    const forged = {...JSON.parse(lines[4]!), event: 'gate'}
    lines[4] = JSON.stringify(forged)
    writeLines(file(dir), lines)
    assert.equal((await verifyAuditLog(dir, store)).firstBroken?.line, 5)
  })

  it('a whole rotated file deleted: a gap at the first line of the next file', async () => {
    const {dir, store} = await writeLog(40, {keep: 5, maxBytes: 1500})
    const rotated = fs.readdirSync(dir).filter((n) => /^audit\.\d\.jsonl$/.test(n))
    assert.ok(rotated.length >= 3, `rotated: ${rotated}`)
    assert.ok((await verifyAuditLog(dir, store)).ok)
    const lastOfTwo = JSON.parse(fileLines(path.join(dir, 'audit.2.jsonl')).at(-1)!).seq
    const lastOfOne = JSON.parse(fileLines(path.join(dir, 'audit.1.jsonl')).at(-1)!).seq
    fs.rmSync(path.join(dir, 'audit.1.jsonl'))
    assert.deepEqual((await verifyAuditLog(dir, store)).firstBroken, {
      file: AUDIT_FILE,
      line: 1,
      problem: `seq gap: expected ${lastOfTwo + 1}, found ${lastOfOne + 1} (line(s) deleted or a rotated file deleted)`,
    })
  })

  it('the oldest rotated file deleted (before rotation drops files): the log starts past seq 1', async () => {
    const {dir, store} = await writeLog(40, {keep: 9, maxBytes: 1500})
    const oldest = fs
      .readdirSync(dir)
      .filter((n) => /^audit\.\d\.jsonl$/.test(n))
      .sort()
      .at(-1)!
    fs.rmSync(path.join(dir, oldest))
    const result = await verifyAuditLog(dir, store, {keep: 9})
    assert.equal(result.firstBroken?.line, 1)
    assert.match(
      result.firstBroken?.problem ?? '',
      /^the log starts at seq \d+: earlier lines or rotated files were deleted$/,
    )
  })

  it('the whole log deleted, the store head remains: truncated', async () => {
    const {dir, store} = await writeLog(3)
    fs.rmSync(file(dir))
    assert.deepEqual((await verifyAuditLog(dir, store)).firstBroken, {
      file: AUDIT_FILE,
      line: 1,
      problem: "the log is empty but the secret store's chain head is at seq 3: the log was truncated or deleted",
    })
  })

  it('the audit key or the head deleted from the store', async () => {
    const {dir, store} = await writeLog(3)
    await store.delete(AUDIT_HEAD_ACCOUNT)
    assert.match((await verifyAuditLog(dir, store)).firstBroken?.problem ?? '', /no chain head/)
    await store.delete(AUDIT_KEY_ACCOUNT)
    assert.deepEqual((await verifyAuditLog(dir, store)).firstBroken?.line, 1)
    assert.match((await verifyAuditLog(dir, store)).firstBroken?.problem ?? '', /audit key is missing/)
  })

  it('a keyed line rewritten as unkeyed (mac dropped, content changed): the next line breaks', async () => {
    const {dir, store} = await writeLog(6)
    const lines = fileLines(file(dir))
    const forged = {...JSON.parse(lines[2]!), profile: 'other', unkeyed: 'store-unavailable'}
    delete forged.mac
    lines[2] = JSON.stringify(forged)
    writeLines(file(dir), lines)
    assert.deepEqual((await verifyAuditLog(dir, store)).firstBroken, {
      file: AUDIT_FILE,
      line: 4,
      problem: 'prev mismatch: the line before it was changed or removed',
    })
  })

  it('the tail from the head on rewritten as unkeyed lines: the head no longer matches', async () => {
    const {dir, store} = await writeLog(4)
    const lines = fileLines(file(dir))
    for (let i = 2; i < 4; i++) {
      const value = {...JSON.parse(lines[i]!), unkeyed: 'store-unavailable'}
      delete value.mac
      if (i > 2) value.prev = sha256Hex(lines[i - 1]!)
      lines[i] = JSON.stringify(value)
    }

    writeLines(file(dir), lines)
    assert.deepEqual((await verifyAuditLog(dir, store)).firstBroken, {
      file: AUDIT_FILE,
      line: 4,
      problem: 'chain head mismatch: the line with seq 4 is not the one recorded as the head',
    })
  })

  it('an empty log with no head is intact', async () => {
    assert.deepEqual(await verifyAuditLog(tempDir(), new MemoryStore()), {files: [], lines: 0, ok: true})
  })
})
