/**
 * A terminal session the way a person (or an agent driving a pty) has one: `command` runs as the sandbox user on a
 * pty of its own (util-linux `script`), and each time a new prompt appears in what the terminal shows, `answer` is
 * typed once, followed by Enter (a list: its n-th entry at the n-th prompt, nothing once it runs out). Unlike
 * piping an answer in a loop, nothing is typed where no prompt asked for it.
 */
import {spawn} from 'node:child_process'

import type {KeyringSandbox, RunResult} from './user-sandbox.js'

export interface PtyOptions {
  env?: Record<string, string>
  /** What counts as a prompt (default: sudo's and av's password prompts). */
  prompt?: RegExp
  timeoutMs?: number
}

export async function answerOnPty(
  sandbox: KeyringSandbox,
  command: string,
  answer: string | string[],
  options: PtyOptions = {},
): Promise<RunResult> {
  const prompt = new RegExp(options.prompt?.source ?? String.raw`password for [^\n:]*:`, 'g')
  const started = Date.now()
  const child = spawn('/usr/bin/script', ['-qec', command, '/dev/null'], {
    cwd: sandbox.home,
    env: {...sandbox.env, ...options.env},
    gid: sandbox.user.gid,
    stdio: ['pipe', 'pipe', 'pipe'],
    uid: sandbox.user.uid,
  })
  return new Promise<RunResult>((resolve) => {
    let stdout = ''
    let stderr = ''
    let answered = 0
    child.stdin.on('error', () => {})
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d
      const prompts = stdout.match(prompt)?.length ?? 0
      for (; answered < prompts; answered++) {
        const text = typeof answer === 'string' ? answer : answer[answered]
        if (text !== undefined) setTimeout(() => child.stdin.write(`${text}\n`), 200)
      }
    })
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({code, signal, stdout, stderr, ms: Date.now() - started})
    })
  })
}

/**
 * A shell line running `command` on a pty (util-linux script) while "a person" types `answer` every 0.3 s, whether
 * or not a prompt asked (for `sandbox.sh`; answerOnPty types only at prompts). The pty is 120 columns wide, as a
 * person's terminal would be (a pty script makes has no width, and listr2 would draw one character per line).
 */
export function typing(answer: string, command: string): string {
  return `(for i in $(seq 100); do sleep 0.3; echo ${answer}; done) | /usr/bin/script -qec 'stty cols 120; ${command}' /dev/null`
}
