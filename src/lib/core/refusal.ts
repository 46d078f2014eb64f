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
  /** An IAM Identity Center profile has no usable sign-in in av's store (none, expired, or revoked). */
  'sso-login-needed',
  /** IAM Identity Center did not answer as it should (network, throttling): the message says which. */
  'sso-failed',
  'store-corrupt',
  'audit-failed',
  'usage',
  /** A bug in av: the message says what broke. */
  'internal',
] as const

export type RefusalReason = (typeof REFUSAL_REASONS)[number]

const THROUGH_AV = 'run the AWS CLI through av: `av run -- aws …` (or the installed `aws` launcher)'

/**
 * What a person can do about each refusal: the one "Try this:" table for every reason code, used by the helper in
 * both modes (custody runs the same release as root) and by custody-client.ts for root's `av custody: refused
 * (<reason>)` lines. A new reason does not compile without its line here.
 */
export const REFUSAL_HINTS: Readonly<Record<RefusalReason, string>> = {
  'token-missing': `Do not call the helper yourself: ${THROUGH_AV}; it answers only the AWS CLI of such a run.`,
  'token-malformed': `A token copied or edited by hand is never accepted: ${THROUGH_AV}.`,
  'token-bad-signature':
    'The token was signed with another token key (another account, install or custody): run the command again through av (`av run -- aws …`) as the user it is for.',
  'token-expired':
    'That run is over: run the command again through av (`av run -- aws …`); each run gets a fresh token.',
  'token-not-yet-valid':
    'The clock stepped back: check the system time (`timedatectl`), then run the command again through av.',
  'token-key-missing': `Unlock your keyring (in custody mode: check \`av doctor\`), then ${THROUGH_AV}.`,
  'profile-mismatch':
    'A run serves one profile: start a new run for the other one (`av run -- aws --profile <name> …`).',
  'self-unknown':
    'The helper could not read its own process in /proc: check that /proc is mounted and readable, then run it again.',
  'parent-not-runtime': `Only the root-owned AWS CLI that av starts may ask: ${THROUGH_AV}.`,
  'argv-mismatch':
    'The AWS CLI was not started with the command line av checked: run it again through `av run -- aws …`, unchanged.',
  'runtime-env-unsafe':
    "Something changed the AWS CLI's environment (LD_*, PYTHON*): run it through `av run -- aws …` without wrappers that inject them.",
  'config-mismatch':
    'The generated AWS config changed during the run (something rewrote it): run the command again through av.',
  'grandparent-not-launcher': `The AWS CLI was not started by av's launcher: ${THROUGH_AV}.`,
  'launcher-start-mismatch': 'The run the token was made for has ended: run the command again through av.',
  'launcher-untrusted':
    'Use the root-owned av that `sudo av install` wrote (and a root-owned node): a copy of av your user can change is never trusted.',
  'launcher-env-unsafe':
    'Start av without NODE_OPTIONS, LD_*/DYLD_* or OPENSSL_CONF in its environment (e.g. `env -u NODE_OPTIONS -u LD_PRELOAD aws …`).',
  'uid-mismatch': 'Run the AWS CLI as the same user as the av launcher that started the run.',
  traced:
    'Detach the debugger or tracer (strace, gdb, a profiler) from av and the AWS CLI, then run the command again.',
  'parent-gone': 'The AWS CLI exited while its credentials were being read: run the command again.',
  'custody-not-sudo':
    'Let av call root custody (through `sudo -n`, as yourself); running the entry point directly or as another user is refused.',
  'custody-caller-untrusted':
    'Only the root-owned av launcher and helper may ask root custody: run the AWS CLI through the installed `aws` launcher or `av run -- aws …`.',
  'custody-not-authenticated':
    'Handing a durable key out needs your password every time: run the command yourself in a terminal, where sudo can ask it.',
  'run-unknown':
    'Only the AWS CLI that av started for a run gets its credentials: run the command through the `aws` launcher or `av run -- aws …`.',
  'run-expired': 'That run is past its longest allowed length (12 h): run the command again.',
  'not-stored':
    'No keys are stored for this profile: `av migrate --profile <name>` moves them (`av status` shows where each is).',
  'store-unavailable':
    'Unlock your keyring (keychain mode) or check that root custody answers (custody mode); `av doctor` says which.',
  'sts-failed':
    'STS did not give session credentials (the message says why): check the network and that the key is active in IAM.',
  'config-invalid':
    "Fix the profile's settings in ~/.aws/config (av_session_duration 900–43200, duration_seconds, region, role settings): the message names the one.",
  'mfa-unavailable':
    'Run the command in a terminal, where av can ask the MFA code, or have root name an approver program in the policy.',
  'mfa-declined': 'Run the command again and enter the MFA code when asked.',
  'sso-login-needed':
    'Sign in to IAM Identity Center through av yourself: `av login --profile <name>` shows a URL and a code to approve in your browser.',
  'sso-failed':
    'IAM Identity Center did not give role credentials (the message says why): check the network, then run the command again.',
  'store-corrupt':
    'A stored item cannot be read: `av doctor` names it; `av restore` then `av migrate` store the profile afresh.',
  'audit-failed': 'Make your audit directory writable (`av doctor` names it): av releases nothing it cannot record.',
  usage: 'Usage: av credential-helper aws [--profile <name>]',
  internal: 'This is a bug in av: run `av doctor`, and report the message above.',
}

export function isRefusalReason(value: string): value is RefusalReason {
  return Object.hasOwn(REFUSAL_HINTS, value)
}
