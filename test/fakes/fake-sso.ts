import type {
  ClientRegistration,
  DeviceAuthorization,
  SsoApi,
  SsoEndpoints,
  SsoToken,
  TokenGrant,
} from '../../src/lib/aws/sso-client.js'
import type {TemporaryCredentials} from '../../src/lib/aws/sts-client.js'
import type {Clock} from '../../src/lib/core/clock.js'

export interface SsoCall {
  operation: 'CreateToken' | 'GetRoleCredentials' | 'Logout' | 'RegisterClient' | 'StartDeviceAuthorization'
  at: SsoEndpoints
  grant?: TokenGrant['kind']
  accessToken?: string
  role?: string
}

function sdkError(name: string): Error {
  return Object.assign(new Error(`${name} (fake)`), {name})
}

/**
 * A fake IAM Identity Center: records each call, answers numbered canary tokens (`avCanarySecret…`), keeps the
 * device authorization pending for `pendingPolls` polls, and accepts a refresh token once (as the real one does).
 */
export class FakeSso implements SsoApi {
  readonly calls: SsoCall[] = []
  pendingPolls = 0
  /** The next CreateToken with a refresh token throws this error name (e.g. InvalidGrantException). */
  refreshFailsWith?: string
  /** GetRoleCredentials throws this error name (`roleFailures` times; default: every time). */
  roleFailsWith?: string
  roleFailures = Number.POSITIVE_INFINITY
  accessSeconds = 3600
  private n = 0
  private readonly refreshTokens = new Set<string>()

  constructor(private readonly clock: Clock) {}

  async createToken(at: SsoEndpoints, input: {client: ClientRegistration; grant: TokenGrant}): Promise<SsoToken> {
    this.calls.push({at, grant: input.grant.kind, operation: 'CreateToken'})
    if (input.grant.kind === 'device') {
      if (this.pendingPolls > 0) {
        this.pendingPolls--
        throw sdkError('AuthorizationPendingException')
      }
    } else {
      if (this.refreshFailsWith) throw sdkError(this.refreshFailsWith)
      if (!this.refreshTokens.delete(input.grant.refreshToken)) throw sdkError('InvalidGrantException')
    }

    return this.token()
  }

  async getRoleCredentials(
    at: SsoEndpoints,
    input: {accessToken: string; accountId: string; roleName: string},
  ): Promise<TemporaryCredentials> {
    this.calls.push({
      accessToken: input.accessToken,
      at,
      operation: 'GetRoleCredentials',
      role: `${input.accountId}/${input.roleName}`,
    })
    if (this.roleFailsWith && this.roleFailures > 0) {
      this.roleFailures--
      throw sdkError(this.roleFailsWith)
    }

    const n = String(++this.n).padStart(4, '0')
    return {
      accessKeyId: `ASIAAVCANARYROLE${n}`,
      expiration: this.clock.now() + 3600 * 1000,
      secretAccessKey: `avCanarySecret/ssoRole/${n}`,
      sessionToken: `avCanarySecret/ssoRoleToken/${n}`,
    }
  }

  async logout(at: SsoEndpoints, input: {accessToken: string}): Promise<void> {
    this.calls.push({accessToken: input.accessToken, at, operation: 'Logout'})
  }

  async registerClient(at: SsoEndpoints): Promise<ClientRegistration> {
    this.calls.push({at, operation: 'RegisterClient'})
    return {
      clientId: `client${++this.n}`,
      clientSecret: `avCanarySecret/client/${this.n}`,
      expiresAt: this.clock.now() + 90 * 86_400_000,
    }
  }

  async startDeviceAuthorization(at: SsoEndpoints): Promise<DeviceAuthorization> {
    this.calls.push({at, operation: 'StartDeviceAuthorization'})
    return {
      deviceCode: `avCanarySecret/device/${++this.n}`,
      expiresAt: this.clock.now() + 600_000,
      intervalSeconds: 1,
      userCode: 'ABCD-EFGH',
      verificationUri: 'https://device.sso.test/',
      verificationUriComplete: 'https://device.sso.test/?user_code=ABCD-EFGH',
    }
  }

  count(operation: SsoCall['operation']): number {
    return this.calls.filter((c) => c.operation === operation).length
  }

  private token(): SsoToken {
    const n = String(++this.n).padStart(4, '0')
    const refreshToken = `avCanarySecret/refresh/${n}`
    this.refreshTokens.add(refreshToken)
    return {
      accessToken: `avCanarySecret/access/${n}`,
      expiresAt: this.clock.now() + this.accessSeconds * 1000,
      refreshToken,
    }
  }
}
