/**
 * Bad run tokens and the one answer each must get from the credential helper, in keychain mode and in custody mode
 * alike (the same reason code and exit code: the helper checks a token's shape before anything else).
 */
export const BAD_TOKENS: Array<[name: string, token: string, reason: RegExp]> = [
  ['an empty token', '', /refused \(token-missing\)/],
  ['a garbage token', 'garbage', /refused \(token-malformed\)/],
  ['a huge token (100 kB)', `v1.${'A'.repeat(100_000)}`, /refused \(token-malformed\)/],
  ['a token of dots', '...', /refused \(token-malformed\)/],
]

/** The helper's exit code for every refusal (botocore then exits 255). */
export const HELPER_REFUSED = 1
