/**
 * The user's side of custody mode: how av's launcher, helper (and migrate) talk to the root-owned custody entry
 * point, always as `/usr/bin/sudo -n <entry> <verb> …` with data on stdin (never argv, which every process of the
 * user can read). The entry comes from the root-owned policy (`custody.entry`, written by `sudo av install
 * --custody`) and must itself pass the trust rule before it is run.
 */
import {spawn} from 'node:child_process'

import type {AwsKeyPair} from './credentials.js'
import type {Policy} from './policy.js'
import type {TokenClaims} from './token.js'

import {AvError} from './errors.js'
import {checkRootOwnedPath} from './trust.js'

export const SUDO = '/usr/bin/sudo'

export interface CustodyCall {
  code: number
  stdout: string
  stderr: string
}

/** The entry point when the policy names one that root controls; null in keychain mode. Throws when it is untrusted. */
export function custodyEntryOf(policy: Policy): null | string {
  const entry = policy.custody?.entry
  if (!entry) return null
  const verdict = checkRootOwnedPath(entry)
  if (!verdict.ok) {
    throw new AvError(
      'refused',
      `the custody entry point ${entry} is not root-controlled (${verdict.path} ${verdict.reason})`,
      {
        suggestion: 'Run `sudo av install --custody` again.',
      },
    )
  }

  return entry
}

/** Run `sudo -n <entry> <args…>` with `input` on stdin. `stderr: 'inherit'` passes root's refusal line through. */
export function callCustody(
  entry: string,
  args: string[],
  input: string,
  options: {stderr?: 'inherit' | 'pipe'} = {},
): Promise<CustodyCall> {
  return new Promise((resolve, reject) => {
    const child = spawn(SUDO, ['-n', entry, ...args], {stdio: ['pipe', 'pipe', options.stderr ?? 'pipe']})
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout!.on('data', (chunk: Buffer) => out.push(chunk))
    child.stderr?.on('data', (chunk: Buffer) => err.push(chunk))
    child.once('error', (error) =>
      reject(
        new AvError('store-unavailable', `sudo could not be started (${(error as NodeJS.ErrnoException).code})`, {
          suggestion: 'Custody mode needs sudo (Debian/Ubuntu: apt-get install sudo).',
        }),
      ),
    )
    child.once('close', (code) =>
      resolve({
        code: code ?? 1,
        stderr: Buffer.concat(err).toString('utf8'),
        stdout: Buffer.concat(out).toString('utf8'),
      }),
    )
    child.stdin!.on('error', () => {})
    child.stdin!.end(input)
  })
}

function failed(verb: string, call: CustodyCall): AvError {
  const line = call.stderr.trim().split('\n').at(-1) ?? ''
  return new AvError(
    call.code === 126 ? 'refused' : 'store-unavailable',
    `custody ${verb} failed (exit ${call.code})${line ? `: ${line.slice(0, 300)}` : ''}`,
    {
      suggestion:
        'Check that `sudo av install --custody` completed (its sudoers drop-in lets you run the entry point).',
    },
  )
}

/** The launcher's token, minted by root for this (genuine, root-checked) launcher. */
export async function mintInCustody(
  entry: string,
  claims: Pick<TokenClaims, 'argvHash' | 'configHash' | 'elevated' | 'profile'>,
): Promise<string> {
  const call = await callCustody(entry, ['mint'], JSON.stringify(claims))
  const token = call.stdout.trim()
  if (call.code !== 0 || !token) throw failed('mint', call)
  return token
}

/** Hand a key pair to custody for the calling user (what `av migrate` does when custody is installed). */
export async function storeInCustody(entry: string, profile: string, pair: AwsKeyPair): Promise<void> {
  const call = await callCustody(
    entry,
    ['store'],
    JSON.stringify({accessKeyId: pair.accessKeyId, profile, secretAccessKey: pair.secretAccessKey}),
  )
  if (call.code !== 0) throw failed('store', call)
}
