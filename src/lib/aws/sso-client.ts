/**
 * av's own IAM Identity Center calls: the OIDC device sign-in (RegisterClient, StartDeviceAuthorization,
 * CreateToken with the device code or a refresh token) and the portal's GetRoleCredentials, behind a small
 * interface so that the resolver and `av login` can be tested with a fake, and the SDK is loaded only when a call
 * is really made (a cached role credential never pays for it).
 *
 * As for STS (sts-client.ts), the endpoint is always passed explicitly, so `AWS_ENDPOINT_URL*` and the user's
 * config never move av's calls; every operation here is unsigned (the SDK's `noAuth` scheme), so no credential
 * provider chain runs either.
 */
import type {TemporaryCredentials} from './sts-client.js'

export interface SsoEndpoints {
  /** Absolute URL of the OIDC service (genuine `https://oidc.<region>.amazonaws.com`, or the root policy's). */
  oidc: string
  /** Absolute URL of the portal (genuine `https://portal.sso.<region>.amazonaws.com`, or the root policy's). */
  portal: string
  region: string
}

export interface ClientRegistration {
  clientId: string
  clientSecret: string
  /** Milliseconds since the epoch. */
  expiresAt: number
}

export interface DeviceAuthorization {
  deviceCode: string
  userCode: string
  verificationUri: string
  /** The URL with the code in it (what a browser should open). */
  verificationUriComplete: string
  /** Milliseconds since the epoch. */
  expiresAt: number
  /** Seconds between polls. */
  intervalSeconds: number
}

/** What a person needs to approve a sign-in (no secret: the code is meant to be typed into the browser). */
export type SignInPrompt = Pick<DeviceAuthorization, 'userCode' | 'verificationUri' | 'verificationUriComplete'>

export interface SsoToken {
  accessToken: string
  /** Milliseconds since the epoch. */
  expiresAt: number
  refreshToken?: string
}

export type TokenGrant = {deviceCode: string; kind: 'device'} | {kind: 'refresh'; refreshToken: string}

export interface SsoApi {
  registerClient(at: SsoEndpoints, input: {clientName: string; scopes: string[]}): Promise<ClientRegistration>
  startDeviceAuthorization(
    at: SsoEndpoints,
    input: {client: ClientRegistration; startUrl: string},
  ): Promise<DeviceAuthorization>
  /** Throws the SDK's AuthorizationPendingException / SlowDownException while the person has not approved yet. */
  createToken(at: SsoEndpoints, input: {client: ClientRegistration; grant: TokenGrant}): Promise<SsoToken>
  getRoleCredentials(
    at: SsoEndpoints,
    input: {accessToken: string; accountId: string; roleName: string},
  ): Promise<TemporaryCredentials>
  /** Ends the access token's portal session (best effort: the refresh token is dropped by av anyway). */
  logout(at: SsoEndpoints, input: {accessToken: string}): Promise<void>
}

const CONNECT_TIMEOUT_MS = 3000
const REQUEST_TIMEOUT_MS = 10_000
const MAX_ATTEMPTS = 3
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code'

function incomplete(action: string): Error {
  return Object.assign(new Error(`the ${action} response lacks what av needs`), {name: 'IncompleteResponse'})
}

function clientConfig(endpoint: string, region: string) {
  return {
    endpoint,
    maxAttempts: MAX_ATTEMPTS,
    region,
    requestHandler: {connectionTimeout: CONNECT_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS},
  }
}

async function withOidc<T>(
  at: SsoEndpoints,
  use: (
    sdk: typeof import('@aws-sdk/client-sso-oidc'),
    client: import('@aws-sdk/client-sso-oidc').SSOOIDCClient,
  ) => Promise<T>,
): Promise<T> {
  const sdk = await import('@aws-sdk/client-sso-oidc')
  const client = new sdk.SSOOIDCClient(clientConfig(at.oidc, at.region))
  try {
    return await use(sdk, client)
  } finally {
    client.destroy()
  }
}

async function withPortal<T>(
  at: SsoEndpoints,
  use: (sdk: typeof import('@aws-sdk/client-sso'), client: import('@aws-sdk/client-sso').SSOClient) => Promise<T>,
): Promise<T> {
  const sdk = await import('@aws-sdk/client-sso')
  const client = new sdk.SSOClient(clientConfig(at.portal, at.region))
  try {
    return await use(sdk, client)
  } finally {
    client.destroy()
  }
}

/** The real IAM Identity Center, through @aws-sdk/client-sso-oidc and @aws-sdk/client-sso (imported on first call). */
export const sdkSso: SsoApi = {
  async createToken(at, {client, grant}) {
    return withOidc(at, async (sdk, oidc) => {
      const out = await oidc.send(
        new sdk.CreateTokenCommand({
          clientId: client.clientId,
          clientSecret: client.clientSecret,
          ...(grant.kind === 'device'
            ? {deviceCode: grant.deviceCode, grantType: DEVICE_GRANT}
            : {grantType: 'refresh_token', refreshToken: grant.refreshToken}),
        }),
      )
      if (!out.accessToken || typeof out.expiresIn !== 'number') throw incomplete('CreateToken')
      const token: SsoToken = {accessToken: out.accessToken, expiresAt: Date.now() + out.expiresIn * 1000}
      if (out.refreshToken) token.refreshToken = out.refreshToken
      return token
    })
  },

  async getRoleCredentials(at, {accessToken, accountId, roleName}) {
    return withPortal(at, async (sdk, portal) => {
      const out = await portal.send(new sdk.GetRoleCredentialsCommand({accessToken, accountId, roleName}))
      const c = out.roleCredentials
      if (!c?.accessKeyId || !c.secretAccessKey || !c.sessionToken || typeof c.expiration !== 'number') {
        throw incomplete('GetRoleCredentials')
      }

      return {
        accessKeyId: c.accessKeyId,
        expiration: c.expiration,
        secretAccessKey: c.secretAccessKey,
        sessionToken: c.sessionToken,
      }
    })
  },

  async logout(at, {accessToken}) {
    await withPortal(at, async (sdk, portal) => {
      await portal.send(new sdk.LogoutCommand({accessToken}))
    })
  },

  async registerClient(at, {clientName, scopes}) {
    return withOidc(at, async (sdk, oidc) => {
      const out = await oidc.send(new sdk.RegisterClientCommand({clientName, clientType: 'public', scopes}))
      if (!out.clientId || !out.clientSecret || typeof out.clientSecretExpiresAt !== 'number') {
        throw incomplete('RegisterClient')
      }

      return {clientId: out.clientId, clientSecret: out.clientSecret, expiresAt: out.clientSecretExpiresAt * 1000}
    })
  },

  async startDeviceAuthorization(at, {client, startUrl}) {
    return withOidc(at, async (sdk, oidc) => {
      const out = await oidc.send(
        new sdk.StartDeviceAuthorizationCommand({
          clientId: client.clientId,
          clientSecret: client.clientSecret,
          startUrl,
        }),
      )
      if (!out.deviceCode || !out.userCode || !out.verificationUri || typeof out.expiresIn !== 'number') {
        throw incomplete('StartDeviceAuthorization')
      }

      return {
        deviceCode: out.deviceCode,
        expiresAt: Date.now() + out.expiresIn * 1000,
        intervalSeconds: out.interval ?? 5,
        userCode: out.userCode,
        verificationUri: out.verificationUri,
        verificationUriComplete: out.verificationUriComplete ?? out.verificationUri,
      }
    })
  },
}
