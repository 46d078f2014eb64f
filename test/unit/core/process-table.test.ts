import assert from 'node:assert/strict'
import {realpathSync} from 'node:fs'
import {describe, it} from 'node:test'

import {
  darwinProcessTable,
  linuxProcessTable,
  parseEnviron,
  parseProcStat,
  parseProcStatus,
  parsePsLine,
  splitNul,
  systemProcessTable,
} from '../../../src/lib/core/process-table.js'

// Captured from this machine's /proc (the tail of each line is verbatim; comm values exercise the parser).
const STAT_TAIL =
  'S 9478 9478 4868 0 -1 4194304 101 0 0 0 0 0 0 0 20 0 1 0 59722 3133440 415 18446744073709551615 94011901337600 ' +
  '94011901357481 140728613654128 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 94011901373488 94011901375104 94012419571712 ' +
  '140728613661408 140728613661428 140728613661428 140728613662699 0'

describe('process table: /proc/<pid>/stat', () => {
  const cases: Array<[string, string]> = [
    ['plain', 'cat'],
    ['spaces', 'my prog name'],
    ['parentheses and a closing paren', 'a) (b) 1 2 3 ('],
    ['a fake field list', ') R 1 1 1 0 -1'],
    ['empty', ''],
  ]
  for (const [name, comm] of cases) {
    it(`reads ppid and start time past a comm with ${name}`, () => {
      assert.deepEqual(parseProcStat(`9488 (${comm}) ${STAT_TAIL}\n`), {
        comm,
        exitStatus: 0,
        pid: 9488,
        ppid: 9478,
        startTime: '59722',
        state: 'S',
      })
    })
  }

  it('reads the wait status a zombie left (exit_code, the last field), and none from an older kernel', () => {
    const zombie = `9488 (aws-python3) Z${STAT_TAIL.slice(1, -1)}1792`
    assert.deepEqual([parseProcStat(zombie)?.state, parseProcStat(zombie)?.exitStatus], ['Z', 1792])
    const old = `9488 (cat) ${STAT_TAIL.split(' ').slice(0, 44).join(' ')}`
    assert.equal(parseProcStat(old)?.exitStatus, null)
  })

  for (const bad of ['', 'garbage', '12 cat S 1', '12 (cat) S x 1', '12 (cat) S 1 1 1']) {
    it(`rejects ${JSON.stringify(bad)}`, () => {
      assert.equal(parseProcStat(bad), null)
    })
  }

  it('reads the real uid and TracerPid from status', () => {
    const status =
      'Name:\tpython3\nUmask:\t0022\nState:\tS (sleeping)\nTracerPid:\t812\nUid:\t1000\t0\t0\t0\nGid:\t0\t0\t0\t0\n'
    assert.deepEqual(parseProcStatus(status), {tracerPid: 812, uid: 1000})
    assert.equal(parseProcStatus('Name:\tx\n'), null)
  })

  it('splits NUL-separated cmdline and environ', () => {
    assert.deepEqual(splitNul('/usr/bin/python3\0-I\0/usr/bin/aws\0s3\0\0ls\0'), [
      '/usr/bin/python3',
      '-I',
      '/usr/bin/aws',
      's3',
      '',
      'ls',
    ])
    assert.deepEqual(splitNul(''), [])
    const env = parseEnviron('A=1\0B=x=y\0NOEQUALS\0=weird\0EMPTY=\0')
    assert.deepEqual({...env}, {A: '1', B: 'x=y', EMPTY: ''})
  })
})

describe('process table: live /proc', {skip: process.platform !== 'linux'}, () => {
  const table = systemProcessTable('linux')

  it('snapshots this test process: ppid, exe, argv, uid, not traced', () => {
    const self = table.snapshot(process.pid)
    assert.ok(self)
    assert.equal(self.pid, process.pid)
    assert.equal(self.ppid, process.ppid)
    assert.equal(self.exe, realpathSync(process.execPath))
    assert.equal(self.uid, process.getuid!())
    assert.equal(self.tracerPid, 0)
    assert.match(self.startTime, /^\d+$/)
    assert.equal(self.argv.at(-1), process.argv.at(-1))
    assert.deepEqual(table.snapshot(process.pid)?.startTime, self.startTime)
    const parent = table.snapshot(process.ppid)
    assert.ok(parent && Number(parent.startTime) <= Number(self.startTime))
  })

  it('reads this process environment as it started', () => {
    const env = table.environ(process.pid)
    assert.ok(env)
    assert.equal(env.PATH, process.env.PATH)
  })

  it('answers null for pids that do not exist or are invalid', () => {
    for (const pid of [0, -1, 1.5, 2 ** 31, Number.NaN]) assert.equal(table.snapshot(pid), null)
    assert.equal(table.environ(2 ** 31), null)
    assert.equal(linuxProcessTable('/nonexistent').snapshot(process.pid), null)
  })
})

// `/bin/ps -ww -o pid=,ppid=,uid=,stat=,lstart=,comm=,args= -p <pid>` lines in the format macOS 14 prints
// (constructed to that format: no macOS machine is available here to capture them).
describe('process table: macOS ps', () => {
  const cases: Array<[string, string, null | Record<string, unknown>]> = [
    [
      'the AWS CLI runtime',
      '53120 53110   501 S    Sat Nov 28 11:10:11 2026     /usr/bin/python3 /usr/bin/python3 -I /usr/bin/aws s3 ls\n',
      {
        argv: ['/usr/bin/python3', '-I', '/usr/bin/aws', 's3', 'ls'],
        exe: '/usr/bin/python3',
        pid: 53120,
        ppid: 53110,
        startTime: 'Sat Nov 28 11:10:11 2026',
        tracerPid: 0,
        uid: 501,
      },
    ],
    [
      'a single-digit day and a traced process',
      '  812     1     0 SX   Mon Dec  1 09:05:00 2026 /opt/av/node /opt/av/node /opt/av/bin/run.js run -- aws sts get-caller-identity',
      {
        argv: ['/opt/av/node', '/opt/av/bin/run.js', 'run', '--', 'aws', 'sts', 'get-caller-identity'],
        exe: '/opt/av/node',
        pid: 812,
        ppid: 1,
        startTime: 'Mon Dec  1 09:05:00 2026',
        tracerPid: -1,
        uid: 0,
      },
    ],
    [
      'spaces in the executable path',
      '700 1 501 Ss Tue Dec  2 10:00:00 2026 /Applications/My App.app/Contents/MacOS/My App /Applications/My App.app/Contents/MacOS/My App -psn',
      {
        argv: ['/Applications/My', 'App.app/Contents/MacOS/My', 'App', '-psn'],
        exe: '/Applications/My App.app/Contents/MacOS/My App',
        pid: 700,
        ppid: 1,
        startTime: 'Tue Dec  2 10:00:00 2026',
        tracerPid: 0,
        uid: 501,
      },
    ],
    [
      'a login shell (comm is not a path)',
      '901 900 501 S Tue Dec  2 10:00:00 2026 -zsh -zsh',
      {
        argv: ['-zsh'],
        exe: null,
        pid: 901,
        ppid: 900,
        startTime: 'Tue Dec  2 10:00:00 2026',
        tracerPid: 0,
        uid: 501,
      },
    ],
    ['a header line', '  PID  PPID   UID STAT STARTED COMM ARGS', null],
    ['an empty line', '', null],
  ]
  for (const [name, line, expected] of cases) {
    it(`parses ${name}`, () => {
      assert.deepEqual(parsePsLine(line), expected)
    })
  }

  it('asks ps for unwrapped columns of one pid and checks the pid it got back', () => {
    const calls: string[][] = []
    const table = darwinProcessTable((args) => {
      calls.push(args)
      return '53120 53110 501 S Sat Nov 28 11:10:11 2026 /usr/bin/python3 /usr/bin/python3 -I /usr/bin/aws\n'
    })
    assert.equal(table.snapshot(53120)?.exe, '/usr/bin/python3')
    assert.equal(table.snapshot(53121), null)
    assert.equal(table.snapshot(-3), null)
    assert.equal(table.environ(53120), null)
    assert.deepEqual(calls[0], ['-ww', '-o', 'pid=,ppid=,uid=,stat=,lstart=,comm=,args=', '-p', '53120'])
    assert.equal(calls.length, 2)
    assert.equal(darwinProcessTable(() => null).snapshot(1), null)
  })
})
