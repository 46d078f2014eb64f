/**
 * Why the credential helper refused. Stable kebab-case codes: tests, the audit log and people's scripts match
 * on them, so a code is never renamed or reused for another meaning.
 */
export const REFUSAL_REASONS = [
  // The token (AV_RUN_TOKEN) the launcher minted for this run.
  'token-missing',
  'token-malformed',
  'token-bad-signature',
  'token-expired',
  'token-not-yet-valid',
  /** The token key is not in the secret store: never minted here, or the store is locked (Linux answers null). */
  'token-key-missing',
  'profile-mismatch',
  // The helper itself and its parent, the AWS CLI runtime.
  'self-unknown',
  'parent-not-runtime',
  'argv-mismatch',
  'runtime-env-unsafe',
  'config-mismatch',
  // The grandparent, the launcher (`node <root-owned av>/bin/run.js run -- aws …`).
  'grandparent-not-launcher',
  'launcher-start-mismatch',
  'launcher-untrusted',
  'launcher-env-unsafe',
  'uid-mismatch',
  'traced',
  'parent-gone',
  // Custody mode (custody-main.ts): the program sudo ran for is not av's genuine helper or launcher.
  /** Not started through sudo by the user it claims (SUDO_UID and /proc disagree, or no sudo in between). */
  'custody-not-sudo',
  /** The process that ran sudo is not av's root-owned helper (release) or launcher (mint). */
  'custody-caller-untrusted',
  /** `release` named a run root has no record of (av did not start it, or it ended). */
  'run-unknown',
  /** `release` for a run past its longest allowed length. */
  'run-expired',
  /** A verb that hands a durable key out (checkout, an elevated mint) came without sudo's password (av-custody-auth). */
  'custody-not-authenticated',
  // After the caller check passed.
  'not-stored',
  'store-unavailable',
  // Getting session or role credentials (sessions.ts).
  /** STS failed (network, throttling, invalid key, denied): the message says which. */
  'sts-failed',
  /** The profile's av_session_duration, duration_seconds, region or role settings cannot be used. */
  'config-invalid',
  /** The profile has mfa_serial and no approver channel could ask for the code. */
  'mfa-unavailable',
  /** The person asked for an MFA code gave none. */
  'mfa-declined',
  'store-corrupt',
  'audit-failed',
  'usage',
  /** A bug in av: the message says what broke. */
  'internal',
] as const

export type RefusalReason = (typeof REFUSAL_REASONS)[number]
