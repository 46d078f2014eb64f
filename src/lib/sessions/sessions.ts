/**
 * Short-lived credentials for the AWS CLI: the helper releases STS session credentials derived from the durable
 * key (GetSessionToken), or role credentials av assumed itself, never the durable key (unless the run is elevated
 * or the root policy lets a profile opt out). A leak from the CLI process is then bounded to hours and to what
 * session credentials can do.
 *
 * The parts: session-settings.ts (what a profile's settings ask for), session-cache.ts (the secret-store cache),
 * resolver.ts (a profile → session, role or durable credentials), sts-errors.ts (STS failures a person can act on).
 * The cache-hit path never imports the AWS SDK.
 */
import type {AuditSink} from '../audit/audit.js'
import type {SecretStore} from '../store/secret-store.js'
import type {ReleasedCredentials, SessionDeps, SessionOptions} from './session-types.js'

import {Resolver} from './resolver.js'
import {roleAccount, sessionAccount} from './session-cache.js'

export type {AwsProfiles, ProfileSettings} from '../aws/aws-profiles.js'

export function isSessionAccount(account: string): boolean {
  return account.startsWith('session:') || account.startsWith('role:')
}

/**
 * The credentials the helper releases for `profile`: a cached or fresh STS session (default), role credentials
 * for a `role_arn` profile, or the durable key (elevated run, allowed opt-out). Throws an AvError when STS fails:
 * a cached session with less than 15 minutes left is never returned instead.
 */
export async function getSessionCredentials(
  profile: string,
  deps: SessionDeps,
  options: SessionOptions = {},
): Promise<ReleasedCredentials> {
  const resolved = await new Resolver(deps, options).resolve(profile, [])
  const released: ReleasedCredentials = {
    accessKeyId: resolved.accessKeyId,
    cached: resolved.cached,
    kind: resolved.kind,
    secretAccessKey: resolved.secretAccessKey,
  }
  if (resolved.sessionToken !== undefined) released.sessionToken = resolved.sessionToken
  if (resolved.expiration !== undefined) released.expiration = resolved.expiration
  return released
}

/** The credential_process document (Version 1) for released credentials. */
export function credentialProcessDocument(c: ReleasedCredentials): Record<string, number | string> {
  const doc: Record<string, number | string> = {
    Version: 1,
    AccessKeyId: c.accessKeyId,
    SecretAccessKey: c.secretAccessKey,
  }
  if (c.sessionToken !== undefined) doc.SessionToken = c.sessionToken
  if (c.expiration !== undefined) doc.Expiration = new Date(c.expiration).toISOString().replace(/\.\d{3}Z$/, 'Z')
  return doc
}

export interface ClearResult {
  cleared: string[]
}

/**
 * Drop cached session and role credentials (all profiles, or one) and record it. Never touches the durable keys:
 * the next run of each profile makes a fresh STS call.
 */
export async function clearSessions(
  deps: {audit: AuditSink; store: SecretStore},
  profile?: string,
): Promise<ClearResult> {
  const {audit, store} = deps
  const accounts =
    profile === undefined
      ? (await store.list()).filter((a) => isSessionAccount(a))
      : [sessionAccount(profile), roleAccount(profile)]
  const cleared: string[] = []
  for (const account of accounts) {
    // eslint-disable-next-line no-await-in-loop -- one keychain call at a time
    if (await store.delete(account)) cleared.push(account)
  }

  await audit.record({cleared, event: 'session-clear', profile: profile ?? null})
  return {cleared}
}
