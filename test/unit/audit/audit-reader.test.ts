import assert from 'node:assert/strict'
import * as fs from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'

import {
  type AuditEntry,
  followAuditLog,
  formatAuditHeader,
  formatAuditRow,
  parseSince,
  readAuditEntries,
} from '../../../src/lib/audit/audit-reader.js'
import {FileAuditLog} from '../../../src/lib/audit/audit.js'
import {AvError} from '../../../src/lib/core/errors.js'
import {MemoryStore} from '../../fakes/memory-store.js'

const NOW = Date.parse('2026-11-28T12:00:00Z')

describe('av log: reading', () => {
  const roots: string[] = []

  after(() => {
    for (const root of roots) fs.rmSync(root, {force: true, recursive: true})
  })

  function tempDir(): string {
    const root = fs.mkdtempSync(path.join(tmpdir(), 'av-log-'))
    roots.push(root)
    return path.join(root, 'av')
  }

  const since: Array<[string, number]> = [
    ['90s', NOW - 90_000],
    ['15m', NOW - 900_000],
    ['2h', NOW - 7_200_000],
    ['1d', NOW - 86_400_000],
    ['1w', NOW - 604_800_000],
    ['1h30m', NOW - 5_400_000],
    ['2026-11-28T10:00:00Z', Date.parse('2026-11-28T10:00:00Z')],
    ['2026-11-27', Date.parse('2026-11-27')],
  ]
  for (const [text, expected] of since) {
    it(`--since ${text}`, () => assert.equal(parseSince(text, NOW), expected))
  }

  for (const bad of ['yesterday', '5', '10 minutes', '']) {
    it(`--since ${JSON.stringify(bad)} is a usage error`, () => {
      assert.throws(
        () => parseSince(bad, NOW),
        (error: unknown) =>
          error instanceof AvError && error.code === 'usage' && /15m, 2h/.test(error.suggestion ?? ''),
      )
    })
  }

  it('filters by time, profile and event, across rotated files, oldest first', async () => {
    const dir = tempDir()
    let t = NOW - 10 * 60_000
    const clock = () => {
      t += 60_000
      return t
    }

    const log = new FileAuditLog(dir, clock, {keep: 3, maxBytes: 700, store: new MemoryStore()})
    const events = [
      {event: 'release', profile: 'dev'},
      {event: 'refusal', profile: 'prod', reason: 'token-missing'},
      {decision: 'deny', event: 'gate', profile: 'prod'},
      {event: 'release', profile: 'prod'},
      {event: 'refusal', profile: 'dev', reason: 'traced'},
      {event: 'release', profile: 'dev'},
    ] as const
    for (const e of events) {
      // eslint-disable-next-line no-await-in-loop -- order is the point
      await log.record({...e})
    }

    assert.ok(fs.existsSync(path.join(dir, 'audit.1.jsonl')), 'rotated')
    assert.deepEqual(
      readAuditEntries(dir).map((e) => e.seq),
      [1, 2, 3, 4, 5, 6],
    )
    assert.deepEqual(
      readAuditEntries(dir, {profile: 'prod'}).map((e) => e.seq),
      [2, 3, 4],
    )
    assert.deepEqual(
      readAuditEntries(dir, {event: 'refusal'}).map((e) => e.reason),
      ['token-missing', 'traced'],
    )
    assert.deepEqual(
      readAuditEntries(dir, {profile: 'dev', since: parseSince('6m', NOW)}).map((e) => e.seq),
      [5, 6],
    )
  })

  it('formats a table row per event: time, event, profile, decision/reason, command', () => {
    const rows: Array<[Partial<AuditEntry>, string]> = [
      [
        {
          answer: 'approved',
          approver: 'tty',
          category: 'decrypt',
          command: 'aws ssm get-parameter --name x --with-decryption',
          decision: 'approve',
          event: 'gate',
          profile: 'prod',
        },
        '2026-11-28 12:00:00Z  gate           prod          approve decrypt via tty: approved aws ssm get-parameter --name x --with-decryption',
      ],
      [
        {
          argvHash: 'cd'.repeat(32),
          category: null,
          decision: 'allow',
          event: 'gate',
          operation: 'ls',
          profile: 'dev',
          service: 's3',
        },
        '2026-11-28 12:00:00Z  gate           dev           allow                             aws s3 ls',
      ],
      [
        {argvHash: 'ab'.repeat(32), event: 'refusal', profile: 'dev', reason: 'parent-not-runtime'},
        '2026-11-28 12:00:00Z  refusal        dev           refused: parent-not-runtime       argv sha256 abababababab…',
      ],
      [
        {
          cached: true,
          credentials: 'session',
          event: 'release',
          expiration: '2026-11-28T12:59:33.000Z',
          profile: 'dev',
        },
        '2026-11-28 12:00:00Z  release        dev           session (cached) until 12:59:33Z',
      ],
      [
        {credentials: 'durable', elevated: true, event: 'release', expiration: '2026-11-29T01:00:00Z', profile: 'dev'},
        '2026-11-28 12:00:00Z  release        dev           durable elevated until 2026-11-2… ',
      ],
      [
        {argvHash: 'cd'.repeat(32), event: 'run', exitCode: 255, profile: 'dev'},
        '2026-11-28 12:00:00Z  run            dev           exit 255                          argv sha256 cdcdcdcdcdcd…',
      ],
      [
        {cleared: ['session:dev', 'role:ops'], event: 'session-clear', profile: null},
        '2026-11-28 12:00:00Z  session-clear                cleared session:dev, role:ops',
      ],
      [{event: 'migrate', profiles: ['dev', 'prod']}, '2026-11-28 12:00:00Z  migrate                      dev, prod'],
    ]
    assert.equal(
      formatAuditHeader(),
      'TIME                  EVENT          PROFILE       DECISION/REASON                   COMMAND',
    )
    for (const [entry, row] of rows) {
      assert.equal(formatAuditRow({time: '2026-11-28T12:00:00.000Z', ...entry} as AuditEntry), row.trimEnd())
    }
  })

  it('-f prints the last entries, then new ones as they come, across rotation', async () => {
    const dir = tempDir()
    const log = new FileAuditLog(dir, Date.now, {keep: 5, maxBytes: 600, store: new MemoryStore()})
    for (let n = 1; n <= 4; n++) {
      // eslint-disable-next-line no-await-in-loop -- order is the point
      await log.record({event: 'release', n, profile: 'dev'})
    }

    const seen: number[] = []
    const stop = new AbortController()
    const following = followAuditLog(dir, {profile: 'dev'}, (e) => seen.push(e.seq as number), {
      intervalMs: 20,
      last: 2,
      signal: stop.signal,
    })
    for (let n = 5; n <= 16; n++) {
      // eslint-disable-next-line no-await-in-loop -- a writer that keeps going while the follower polls
      await log.record({event: 'release', n, profile: n === 9 ? 'other' : 'dev'})
      // eslint-disable-next-line no-await-in-loop
      await new Promise((resolve) => {
        setTimeout(resolve, n % 3 === 0 ? 30 : 1)
      })
    }

    const rotations = fs.readdirSync(dir).filter((n) => /^audit\.\d\.jsonl$/.test(n)).length
    assert.ok(rotations >= 2, `rotated ${rotations} times`)
    await new Promise((resolve) => {
      setTimeout(resolve, 100)
    })
    stop.abort()
    await following
    assert.deepEqual(seen, [3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16])
  })
})
