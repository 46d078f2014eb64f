/** The shapes the session parts share: what is released, what a session needs, and how to ask for an MFA code. */
import type {AwsProfiles} from '../aws/aws-profiles.js'
import type {SsoApi} from '../aws/sso-client.js'
import type {StsApi} from '../aws/sts-client.js'
import type {Clock} from '../core/clock.js'
import type {Policy} from '../core/policy.js'
import type {SecretStore} from '../store/secret-store.js'
import type {LoginRefresh} from './login-session.js'

export type CredentialKind = 'durable' | 'login' | 'role' | 'session'

export interface ReleasedCredentials {
  kind: CredentialKind
  accessKeyId: string
  secretAccessKey: string
  sessionToken?: string
  /** Milliseconds since the epoch; absent for the durable key. */
  expiration?: number
  /** True when the credentials came from the secret-store cache (no STS call was made). */
  cached: boolean
}

export interface CodeRequest {
  profile: string
  mfaSerial: string
  reason: string
}

export interface SessionDeps {
  clock: Clock
  store: SecretStore
  policy: Policy
  /** The user's AWS config profiles (only av_*, mfa_serial, role and region settings are read). */
  profiles: AwsProfiles
  /** The STS client; `sdkSts` from sts-client.ts in production (loaded lazily by the caller). */
  sts: () => Promise<StsApi>
  /** The config's `[sso-session x]` sections by name (IAM Identity Center profiles name one). */
  ssoSessions?: AwsProfiles
  /** IAM Identity Center; `sdkSso` from sso-client.ts in production (loaded lazily). Absent: SSO profiles refuse. */
  sso?: () => Promise<SsoApi>
  /** Console sign-in (`aws login`) refresh through the SDK's provider (login-refresh.ts). Absent: such profiles refuse. */
  loginRefresh?: LoginRefresh
  /** Asks a human for an MFA code (see code-prompt.ts); throws a refusal when no channel can. */
  askCode?: (request: CodeRequest) => Promise<string>
}

export interface SessionOptions {
  /** An approved elevated run: the durable key for a plain profile (role profiles still get role credentials). */
  elevated?: boolean
}
