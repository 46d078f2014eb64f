/**
 * `av approve [ID]` and `av deny ID`: the user's side of a held run in custody mode. Listing and showing come from
 * root (`pending`); the approval itself is root's `approve` verb behind sudo's password prompt, so what proves a
 * person is the password, never this process. Keychain mode has no held runs to approve from elsewhere.
 */
import type {Policy} from '../core/policy.js'

import {AvError} from '../core/errors.js'
import {describeRequest} from '../gate/approver.js'
import {approveInCustody, custodyEntryOf, denyInCustody, pendingApprovals, type PendingView} from './custody-client.js'

export interface ApprovalsDeps {
  policy: Policy
  now(): number
  write(text: string): void
}

function entryOf(policy: Policy): string {
  const entry = custodyEntryOf(policy)
  if (entry === null) {
    throw new AvError('usage', 'av approve needs custody mode: in keychain mode a held command asks where it runs', {
      suggestion: 'Install custody with `sudo av install` (the Linux default).',
    })
  }

  return entry
}

/** What root shows for one held run, as a person reads it. */
export function describePending(view: PendingView, now: number): string {
  const seconds = Math.max(0, Math.round((view.expires - now) / 1000))
  const lines = describeRequest(view.request).split('\n').slice(0, -1)
  return [
    `Request ${view.id} (expires in ${seconds} s):`,
    ...lines.map((line) => `  ${line}`),
    ...(view.elevated ? ['  It runs with your durable AWS key (not a session).'] : []),
  ].join('\n')
}

/** No id: list what waits. An id: show it, then sudo asks the password and root records the approval. */
export async function approve(
  id: string | undefined,
  deps: ApprovalsDeps,
): Promise<{approved: null | string; pending: PendingView[]}> {
  const entry = entryOf(deps.policy)
  const pending = await pendingApprovals(entry)
  if (id === undefined) {
    if (pending.length === 0) deps.write('No held runs wait for approval.\n')
    for (const view of pending) deps.write(describePending(view, deps.now()) + `\n  Approve: av approve ${view.id}\n`)
    return {approved: null, pending}
  }

  const view = pending.find((p) => p.id === id)
  if (!view) {
    throw new AvError('not-found', `no held run ${JSON.stringify(id.slice(0, 40))} is waiting`, {
      suggestion: '`av approve` with no id lists the held runs waiting now.',
    })
  }

  deps.write(describePending(view, deps.now()) + '\n')
  const answer = await approveInCustody(entry, id)
  deps.write(`${answer}\n`)
  return {approved: id, pending: [view]}
}

export async function deny(id: string, deps: ApprovalsDeps): Promise<{denied: string}> {
  deps.write(`${await denyInCustody(entryOf(deps.policy), id)}\n`)
  return {denied: id}
}
