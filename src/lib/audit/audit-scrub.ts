/**
 * The audit trail's last line of defence: never a secret, a token or a signature in it. Callers are expected to
 * pass only non-secret context; this scrub refuses (replaces with a `[redacted:<kind>]` marker) any field whose
 * name says it holds a secret, and any run of characters that looks like an AWS secret access key, an AWS session
 * token, an av run token or a request signature. The line is still written (a release must never go unrecorded),
 * and it names the fields that were redacted.
 */

export type SecretKind = 'av-token' | 'aws-secret-key' | 'aws-session-token' | 'secret-field' | 'signature'

/**
 * Field names whose value is never written, whatever it looks like (compared lower-case, without - and _).
 * Not `credentials`: the helper records which kind it released there (`session`, `role`, `durable`).
 */
const SECRET_FIELD_NAMES = new Set([
  'accesstoken',
  'authorization',
  'avruntoken',
  'awssecretaccesskey',
  'awssessiontoken',
  'clientsecret',
  'devicecode',
  'password',
  'privatekey',
  'refreshtoken',
  'secret',
  'secretaccesskey',
  'securitytoken',
  'sessiontoken',
  'signature',
  'token',
  'xamzsecuritytoken',
  'xamzsignature',
])

interface Pattern {
  kind: SecretKind
  regex: RegExp
}

/**
 * Order matters: longer, more specific shapes first. Every regex is global; the replacement keeps any prefix
 * captured in group 1 (`Signature=` and friends) so the rest of a command line stays readable.
 */
const PATTERNS: Pattern[] = [
  // First, whole: a token's payload alone may look like a session token, and its mac must not survive that.
  // An av run token (`v1.<base64url payload>.<base64url mac>`, see token.ts) or any JWT-like token.
  {kind: 'av-token', regex: /()(?<![\w.-])v\d+\.[\w-]{8,}\.[\w-]{16,}(?![\w-])/g},
  {kind: 'av-token', regex: /()(?<![\w.-])[\w-]{16,}\.[\w-]{16,}(?:\.[\w-]{8,})?(?![\w.-])/g},
  // Session tokens (STS, SSO) are long base64: 100+ characters of the base64 alphabet.
  {kind: 'aws-session-token', regex: /()(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{100,}={0,2}(?![A-Za-z0-9/+=])/g},
  // Signatures and tokens in URLs, headers and query strings.
  {
    kind: 'signature',
    regex: /((?:X-Amz-Signature|Signature|X-Amz-Security-Token|SessionToken|sig)=)[^\s&"',]+/gi,
  },
  // An AWS secret access key: exactly 40 characters of base64, with mixed case (rules out hex digests).
  {
    kind: 'aws-secret-key',
    regex: /()(?<![A-Za-z0-9/+=])(?=[A-Za-z0-9/+]*[a-z])(?=[A-Za-z0-9/+]*[A-Z])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])/g,
  },
]

function normalizedName(name: string): string {
  return name.toLowerCase().replaceAll(/[-_]/g, '')
}

export function isSecretFieldName(name: string): boolean {
  return SECRET_FIELD_NAMES.has(normalizedName(name))
}

/** The kinds of secret-looking text in `text` (empty when it looks harmless). */
export function secretKindsIn(text: string): SecretKind[] {
  const kinds: SecretKind[] = []
  for (const {kind, regex} of PATTERNS) {
    regex.lastIndex = 0
    if (regex.test(text)) kinds.push(kind)
    regex.lastIndex = 0
  }

  return kinds
}

function scrubString(text: string): {changed: boolean; text: string} {
  let out = text
  for (const {kind, regex} of PATTERNS) {
    out = out.replace(regex, (_match, prefix: string) => `${prefix ?? ''}[redacted:${kind}]`)
  }

  return {changed: out !== text, text: out}
}

/**
 * Scrub one value (recursively through arrays and plain objects). Returns the value to write and the dotted
 * paths of the fields that were redacted.
 */
export function scrubValue(value: unknown, at = ''): {redacted: string[]; value: unknown} {
  if (typeof value === 'string') {
    const {changed, text} = scrubString(value)
    return {redacted: changed ? [at] : [], value: text}
  }

  if (Array.isArray(value)) {
    const redacted: string[] = []
    const out = value.map((item, index) => {
      const r = scrubValue(item, `${at}[${index}]`)
      redacted.push(...r.redacted)
      return r.value
    })
    return {redacted, value: out}
  }

  if (typeof value === 'object' && value !== null) {
    const redacted: string[] = []
    const out: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value)) {
      const path = at ? `${at}.${key}` : key
      if (isSecretFieldName(key) && item !== null && item !== undefined && item !== '') {
        out[key] = '[redacted:secret-field]'
        redacted.push(path)
        continue
      }

      const r = scrubValue(item, path)
      redacted.push(...r.redacted)
      out[key] = r.value
    }

    return {redacted, value: out}
  }

  return {redacted: [], value}
}
