// How root gets a held run approved: a root-configured approver program (never for an elevated run), else a
// pending record that only the user's password answers — on this terminal (sudo's prompt) or with `av approve ID`
// from another — for this one run. A fake world: the clock advances in sleep, where other "processes" act.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import type {RootApprovalInput, UserAccount} from '../../../src/lib/custody/root-launcher.js'
import type {PendingApproval, RunBinding} from '../../../src/lib/custody/run-record.js'
import type {ApprovalAnswer, ApprovalRequest} from '../../../src/lib/gate/types.js'

import {DEFAULT_POLICY, type Policy} from '../../../src/lib/core/policy.js'
import {askRootApproval, describeHeld, type RootApprovalWorld} from '../../../src/lib/custody/root-approval.js'
import {hashArgv} from '../../../src/lib/run/token.js'
import {FakeChild} from '../../fakes/fake-child.js'
import {MemoryRunStore} from '../../fakes/memory-run-store.js'

const NOW = 1_800_000_000_000
const TIMEOUT_MS = 30_000
const AUTH_ENTRY = '/opt/av/libexec/av-custody-auth'
const USER: UserAccount = {gid: 1000, home: '/home/u', name: 'u', uid: 1000}
const BINDING: RunBinding = {
  argvHash: hashArgv(['secretsmanager', 'get-secret-value', '--secret-id', 'x']),
  launcherPid: 50,
  launcherStart: '777',
}
const REQUEST: ApprovalRequest = {
  category: 'decrypted-secret',
  chain: [
    {name: 'bash', pid: 30},
    {name: 'claude', pid: 20},
  ],
  command: 'aws secretsmanager get-secret-value --secret-id x',
  endpoint: null,
  profile: 'dev',
  reason: 'prints the secret value',
  rule: 'secretsmanager get-secret-value',
}
const PROGRAM = {program: '/usr/local/libexec/approver'}

/** What happens in the world while root waits: called from each sleep with the pending request and the prompt. */
type Step = (ctx: {pending: PendingApproval; prompt: FakeChild | null; runs: MemoryRunStore; slept: number}) => void

interface Run {
  answer: ApprovalAnswer
  elapsed: number
  pending: PendingApproval[]
  programs: Array<Array<{program: string}>>
  prompt: FakeChild | null
  prompts: Array<{argv: string[]; user: UserAccount}>
  runs: MemoryRunStore
  stderr: string
}

async function ask(options: {
  elevated?: boolean
  policy?: Partial<Policy>
  program?: ApprovalAnswer
  step?: Step
  terminal?: boolean
}): Promise<Run> {
  const runs = new MemoryRunStore()
  const created: PendingApproval[] = []
  const createPending = runs.createPending.bind(runs)
  runs.createPending = (input) => {
    const pending = createPending(input)
    created.push(pending)
    return pending
  }

  let now = NOW
  let slept = 0
  let prompt: FakeChild | null = null
  const programs: Run['programs'] = []
  const prompts: Run['prompts'] = []
  const stderr: string[] = []
  const world: RootApprovalWorld = {
    async askPrograms(request, list) {
      assert.deepEqual(request, REQUEST)
      programs.push(list)
      return options.program ?? 'unavailable'
    },
    authEntry: AUTH_ENTRY,
    clock: {now: () => now},
    hasTerminal: () => options.terminal ?? false,
    async sleep(ms) {
      now += ms
      slept += 1
      if (slept > 10_000) throw new Error('askRootApproval never stopped waiting')
      options.step?.({pending: created[0]!, prompt, runs, slept})
    },
    startPrompt(argv, user) {
      prompts.push({argv, user})
      prompt = new FakeChild()
      return prompt.child
    },
    stderr: {write: (text) => stderr.push(text)},
  }
  const input: RootApprovalInput = {
    binding: BINDING,
    elevated: options.elevated ?? false,
    policy: {...DEFAULT_POLICY, ...options.policy},
    request: REQUEST,
    runs,
    timeoutMs: TIMEOUT_MS,
    user: USER,
  }
  const answer = await askRootApproval(input, world)
  return {answer, elapsed: now - NOW, pending: created, programs, prompt, prompts, runs, stderr: stderr.join('')}
}

/** Every way out leaves no request and no answer behind: an approval is used once. */
function assertCleared(run: Run): void {
  assert.deepEqual([...run.runs.pending.keys(), ...run.runs.answers.keys()], [])
  for (const pending of run.pending) assert.ok(run.runs.calls.includes(`removePending ${pending.id}`))
}

describe('askRootApproval: approver programs', () => {
  const CASES: Array<[string, {elevated?: boolean; program: ApprovalAnswer}, ApprovalAnswer, boolean]> = [
    ['a program approves', {program: 'approved'}, 'approved', true],
    ['a program denies', {program: 'denied'}, 'denied', true],
    [
      'a program approves an elevated run: not asked, no terminal → times out',
      {elevated: true, program: 'approved'},
      'unavailable',
      false,
    ],
    ['a program denies an elevated run: not asked either', {elevated: true, program: 'denied'}, 'unavailable', false],
    ['no program answers → the password is waited for', {program: 'unavailable'}, 'unavailable', true],
  ]
  for (const [name, over, expected, asked] of CASES) {
    it(`${name} → ${expected}`, async () => {
      const run = await ask({...over, policy: {approvers: ['gui', 'tty', PROGRAM]}})
      assert.equal(run.answer, expected)
      // Only the root-configured programs are run; gui and tty never count in custody.
      assert.deepEqual(run.programs, asked ? [[PROGRAM]] : [])
      assert.equal(run.pending.length, expected === 'unavailable' ? 1 : 0)
      assertCleared(run)
    })
  }

  it('no programs in the policy: none is asked, the request waits for a password', async () => {
    const run = await ask({policy: {approvers: ['gui', 'tty']}, program: 'approved'})
    assert.deepEqual([run.answer, run.programs], ['unavailable', []])
  })
})

describe('askRootApproval: waiting for the password', () => {
  const elsewhere =
    (answer: 'approved' | 'denied', binding?: Partial<RunBinding>): Step =>
    ({pending, runs, slept}) => {
      if (slept === 3) runs.answer({...pending, binding: {...pending.binding, ...binding}}, answer, 77, NOW)
    }

  const CASES: Array<[string, {elevated?: boolean; step?: Step; terminal?: boolean}, ApprovalAnswer]> = [
    ['no terminal, nobody answers', {}, 'unavailable'],
    ['no terminal, elevated, nobody answers', {elevated: true}, 'unavailable'],
    ['`av approve` from another terminal', {step: elsewhere('approved')}, 'approved'],
    ['`av deny` from another terminal', {step: elsewhere('denied')}, 'denied'],
    ['an approval bound to another launcher', {step: elsewhere('approved', {launcherPid: 51})}, 'denied'],
    ['an approval bound to a reused launcher pid', {step: elsewhere('approved', {launcherStart: '778'})}, 'denied'],
    [
      'an approval bound to other arguments',
      {step: elsewhere('approved', {argvHash: hashArgv(['s3', 'ls'])})},
      'denied',
    ],
    ['with a terminal, `av approve` from another one', {step: elsewhere('approved'), terminal: true}, 'approved'],
    [
      'the password typed here (sudo ran approve, then exited)',
      {
        step({pending, prompt, runs, slept}) {
          if (slept !== 2) return
          runs.answer(pending, 'approved', 60, NOW)
          prompt!.exit(0)
        },
        terminal: true,
      },
      'approved',
    ],
    [
      'the prompt exits without an answer (wrong password, Ctrl-C)',
      {
        step({prompt, slept}) {
          if (slept === 2) prompt!.exit(1)
        },
        terminal: true,
      },
      'denied',
    ],
    [
      'the prompt could not start',
      {
        step({prompt, slept}) {
          if (slept === 1) prompt!.fail(new Error('spawn /usr/bin/sudo ENOENT'))
        },
        terminal: true,
      },
      'denied',
    ],
    ['a terminal, nobody types', {terminal: true}, 'unavailable'],
  ]
  for (const [name, options, expected] of CASES) {
    it(`${name} → ${expected}`, async () => {
      const run = await ask(options)
      assert.equal(run.answer, expected)
      assert.equal(run.pending.length, 1)
      const [pending] = run.pending as [PendingApproval]
      assert.deepEqual(
        {...pending, id: undefined},
        {
          binding: BINDING,
          created: NOW,
          elevated: options.elevated ?? false,
          expires: NOW + TIMEOUT_MS,
          id: undefined,
          request: REQUEST,
          uid: USER.uid,
          v: 1,
        },
      )
      if (expected === 'unavailable') assert.ok(run.elapsed >= TIMEOUT_MS && run.elapsed < TIMEOUT_MS + 1000)
      else assert.ok(run.elapsed < TIMEOUT_MS)
      assert.ok(run.stderr.startsWith(describeHeld(REQUEST, pending.id, options.elevated ?? false, 30)))
      if (options.terminal) {
        assert.deepEqual(run.prompts, [
          {
            argv: [
              '/usr/bin/sudo',
              '-p',
              `[av] password for %p to approve ${pending.id}: `,
              AUTH_ENTRY,
              'approve',
              pending.id,
            ],
            user: USER,
          },
        ])
        assert.match(run.stderr, /type your password here/)
        // A prompt still asking when root stops waiting is ended; one that is over is left alone.
        const over = run.prompt!.exitCode !== null || run.prompt!.failed
        assert.deepEqual(run.prompt!.kills, over ? [] : ['SIGTERM'])
      } else {
        assert.deepEqual(run.prompts, [])
      }

      assertCleared(run)
    })
  }
})

describe('describeHeld: what the person sees before approving', () => {
  it('names the command, profile, category, endpoint, who asked and the `av approve` line', () => {
    assert.equal(
      describeHeld(REQUEST, 'a1b2c3', false, 120),
      [
        'av: this command is held until you approve it with your password:',
        'av:   aws secretsmanager get-secret-value --secret-id x',
        'av:   profile dev; decrypted-secret (secretsmanager get-secret-value): prints the secret value',
        'av:   endpoint AWS (default); asked by bash (30) ← claude (20)',
        'av: approval needed: run `av approve a1b2c3` in your own terminal (expires in 120 s)',
      ].join('\n'),
    )
  })

  it('says when the run would hold the durable key, and names a custom endpoint', () => {
    const text = describeHeld({...REQUEST, chain: [], endpoint: 'https://evil.example.com'}, 'a1b2c3', true, 30)
    assert.match(text, /^av: {3}it runs with your durable AWS key \(not a session\)$/m)
    assert.match(text, /^av: {3}endpoint https:\/\/evil\.example\.com; asked by unknown$/m)
    assert.match(text, /^av: approval needed: run `av approve a1b2c3` in your own terminal \(expires in 30 s\)$/m)
  })
})
