/**
 * av's own STS calls (GetSessionToken, AssumeRole), behind a small interface so that sessions.ts can be tested
 * with a fake and the AWS SDK is loaded only when a call is really made (the cache-hit path never pays for it).
 *
 * The endpoint is always passed explicitly: the SDK then ignores `AWS_ENDPOINT_URL*`, `endpoint_url` and
 * `[services]` from the environment and ~/.aws/config, which an agent could point at its own server to receive
 * a signed request. Credentials are passed explicitly too, so no provider chain runs.
 */
import type {AwsKeyPair} from '../store/credentials.js'

export interface TemporaryCredentials {
  accessKeyId: string
  secretAccessKey: string
  sessionToken: string
  /** Milliseconds since the epoch. */
  expiration: number
}

export interface StsTarget {
  credentials: AwsKeyPair
  /** Absolute URL of the STS endpoint (genuine AWS, or the root policy's `sts.endpoint`). */
  endpoint: string
  /** SigV4 signing region. */
  region: string
}

export interface MfaInput {
  serialNumber: string
  tokenCode: string
}

export interface GetSessionTokenInput {
  durationSeconds: number
  mfa?: MfaInput
}

export interface AssumeRoleInput {
  durationSeconds: number
  externalId?: string
  mfa?: MfaInput
  roleArn: string
  roleSessionName: string
}

export interface StsApi {
  assumeRole(target: StsTarget, input: AssumeRoleInput): Promise<TemporaryCredentials>
  getSessionToken(target: StsTarget, input: GetSessionTokenInput): Promise<TemporaryCredentials>
}

/** Network timeouts for av's STS calls: the AWS CLI waits on the helper, and Go SDK tools give up after 60 s. */
const CONNECT_TIMEOUT_MS = 3000
const REQUEST_TIMEOUT_MS = 10_000
const MAX_ATTEMPTS = 3

interface SdkCredentials {
  AccessKeyId?: string
  Expiration?: Date
  SecretAccessKey?: string
  SessionToken?: string
}

function temporary(action: string, credentials: SdkCredentials | undefined): TemporaryCredentials {
  const {AccessKeyId, Expiration, SecretAccessKey, SessionToken} = credentials ?? {}
  if (!AccessKeyId || !SecretAccessKey || !SessionToken || !(Expiration instanceof Date)) {
    throw Object.assign(new Error(`the ${action} response lacks credentials`), {name: 'IncompleteResponse'})
  }

  return {
    accessKeyId: AccessKeyId,
    expiration: Expiration.getTime(),
    secretAccessKey: SecretAccessKey,
    sessionToken: SessionToken,
  }
}

async function client(target: StsTarget) {
  const sdk = await import('@aws-sdk/client-sts')
  const sts = new sdk.STSClient({
    credentials: target.credentials,
    endpoint: target.endpoint,
    maxAttempts: MAX_ATTEMPTS,
    region: target.region,
    requestHandler: {connectionTimeout: CONNECT_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS},
  })
  return {sdk, sts}
}

/** The real STS, through @aws-sdk/client-sts (imported on first call). Errors are the SDK's; see describeStsError. */
export const sdkSts: StsApi = {
  async assumeRole(target, input) {
    const {sdk, sts} = await client(target)
    try {
      const out = await sts.send(
        new sdk.AssumeRoleCommand({
          DurationSeconds: input.durationSeconds,
          ExternalId: input.externalId,
          RoleArn: input.roleArn,
          RoleSessionName: input.roleSessionName,
          SerialNumber: input.mfa?.serialNumber,
          TokenCode: input.mfa?.tokenCode,
        }),
      )
      return temporary('AssumeRole', out.Credentials)
    } finally {
      sts.destroy()
    }
  },

  async getSessionToken(target, input) {
    const {sdk, sts} = await client(target)
    try {
      const out = await sts.send(
        new sdk.GetSessionTokenCommand({
          DurationSeconds: input.durationSeconds,
          SerialNumber: input.mfa?.serialNumber,
          TokenCode: input.mfa?.tokenCode,
        }),
      )
      return temporary('GetSessionToken', out.Credentials)
    } finally {
      sts.destroy()
    }
  },
}

/** GetCallerIdentity with `target`'s credentials: whether AWS takes a key (av rotate waits until a new one works). */
export async function sdkCallerIdentity(target: StsTarget): Promise<{account: string; arn: string}> {
  const {sdk, sts} = await client(target)
  try {
    const out = await sts.send(new sdk.GetCallerIdentityCommand({}))
    return {account: out.Account ?? '', arn: out.Arn ?? ''}
  } finally {
    sts.destroy()
  }
}
