/**
 * STS errors → messages a person can act on (never a secret): the network, access denied, throttling, a key AWS
 * does not know, expired credentials, a disabled region; anything else names the error and the endpoint.
 */
import {AvError} from '../core/errors.js'

const NETWORK_CODES = new Set([
  'EAI_AGAIN',
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EPIPE',
  'ETIMEDOUT',
])
const THROTTLING = new Set(['RequestLimitExceeded', 'Throttling', 'ThrottlingException', 'TooManyRequestsException'])

function redact(text: string): string {
  return text.replaceAll(/\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g, '<access key id>').slice(0, 300)
}

/** Known STS error names → what to tell the person: the problem and what to do. */
const STS_ERRORS: Array<{match: (name: string) => boolean; problem: (name: string) => string; suggestion: string}> = [
  {
    match: (name) => THROTTLING.has(name),
    problem: (name) => `AWS throttled the request (${name}) after retries`,
    suggestion: 'Wait a minute and run the command again; cached sessions avoid most STS calls.',
  },
  {
    match: (name) => name === 'InvalidClientTokenId',
    problem: () => 'AWS does not recognise the stored access key (InvalidClientTokenId)',
    suggestion:
      'The key was deleted or deactivated: create a new access key for this IAM user, put it in ~/.aws/credentials and run `av migrate` again.',
  },
  {
    match: (name) => name === 'SignatureDoesNotMatch',
    problem: () => 'the stored secret does not match its access key id (SignatureDoesNotMatch)',
    suggestion:
      'Put the correct key pair in ~/.aws/credentials and run `av migrate` again (also check the system clock).',
  },
  {
    match: (name) => name === 'ExpiredToken' || name === 'ExpiredTokenException',
    problem: (name) => `the credentials it was signed with have expired (${name})`,
    // The expired credentials may be a cached source session of a role chain: clear them all.
    suggestion: 'Run `av session clear` and try again.',
  },
  {
    match: (name) => name === 'RegionDisabledException',
    problem: () => "STS is not activated in the profile's region",
    suggestion: 'Activate the region for STS in IAM account settings, or set a different region for the profile.',
  },
]

function isNetworkError(name: string, code: string): boolean {
  return NETWORK_CODES.has(code) || NETWORK_CODES.has(name) || name === 'TimeoutError' || code === 'ABORT_ERR'
}

export function describeStsError(error: unknown, what: {action: string; endpoint: string; profile: string}): AvError {
  if (error instanceof AvError) return error
  const e = (error ?? {}) as {$metadata?: {httpStatusCode?: number}; code?: string; message?: string; name?: string}
  const name = e.name ?? 'Error'
  const {action, endpoint, profile} = what
  const head = `STS ${action} for profile ${profile} failed`

  if (isNetworkError(name, e.code ?? '')) {
    return new AvError('sts-failed', `${head}: ${endpoint} could not be reached (${e.code || name})`, {
      cause: error,
      suggestion: 'Check the network connection (and any firewall or VPN), then run the command again.',
    })
  }

  if (name === 'AccessDenied' || name === 'AccessDeniedException') {
    return new AvError('sts-failed', `${head}: access denied (${redact(e.message ?? '')})`, {
      cause: error,
      suggestion:
        'Check the MFA code, the role trust policy and the profile settings (role_arn, external_id, mfa_serial).',
    })
  }

  const known = STS_ERRORS.find((k) => k.match(name))
  if (known) {
    return new AvError('sts-failed', `${head}: ${known.problem(name)}`, {
      cause: error,
      suggestion: known.suggestion,
    })
  }

  const status = e.$metadata?.httpStatusCode
  return new AvError(
    'sts-failed',
    `${head} at ${endpoint}: ${name}${status ? ` (HTTP ${status})` : ''}: ${redact(e.message ?? 'no message')}`,
    {cause: error, suggestion: 'Run the command again; if it keeps failing, run `av doctor`.'},
  )
}
