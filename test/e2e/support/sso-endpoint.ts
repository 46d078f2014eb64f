/**
 * IAM Identity Center on the local test endpoint (sigv4-endpoint.ts routes its unsigned requests here): the OIDC
 * service (RegisterClient, StartDeviceAuthorization, CreateToken with the device code or a refresh token) and the
 * portal's GetRoleCredentials and Logout (bearer token in `x-amz-sso_bearer_token`), in the restJson1 shapes the
 * AWS SDK sends and parses.
 *
 * A device authorization stays pending (AuthorizationPendingException) until the test approves its user code
 * (`approve`, or `autoApprove`). Every token is canary-marked (it holds `avCanarySecret`), so the e2e greps find
 * one wherever it leaks. Role credentials GetRoleCredentials hands out are added to the endpoint's keys: the AWS
 * CLI's requests signed with them verify, and GetCallerIdentity names the role. A test can expire an access token
 * or a refresh token (`expireAccessTokens`, `revokeRefreshTokens`) to drive av's refresh and its refusal.
 */
import type {IncomingMessage, ServerResponse} from 'node:http'

import {type JsonWebKey, randomBytes, verify} from 'node:crypto'

import type {CanaryCredentials} from './sigv4-endpoint.js'

export const SSO_MARK = 'avCanarySecretSso'

export interface SsoOptions {
  /** Accounts and roles the signed-in user may get credentials for (`<account>/<role>`). */
  roles: string[]
  /** Lifetime of access tokens CreateToken issues (default 3600 s). */
  accessSeconds?: number
  /** Approve every device authorization as soon as it starts. */
  autoApprove?: boolean
  /** Lifetime of role credentials (default 3600 s). */
  roleSeconds?: number
}

export interface SsoExchange {
  req: IncomingMessage
  res: ServerResponse
  path: string
  query: Record<string, string | string[]>
  body: string
}

interface Authorization {
  clientId: string
  deviceCode: string
  userCode: string
  approved: boolean
}

interface AccessToken {
  expiresAt: number
  clientId: string
}

export interface SsoRequest {
  operation: string
  at: number
  /** The bearer token or the grant's secret was one this service issued (and still valid). */
  accepted: boolean
}

function secret(kind: string): string {
  return `${SSO_MARK}${kind}${randomBytes(12).toString('hex')}`
}

export class SsoService {
  readonly requests: SsoRequest[] = []
  private readonly clients = new Map<string, string>()
  private readonly authorizations = new Map<string, Authorization>()
  private readonly accessTokens = new Map<string, AccessToken>()
  private readonly refreshTokens = new Map<string, string>()
  private autoApprove: boolean

  constructor(
    private readonly options: SsoOptions,
    private readonly addKey: (key: CanaryCredentials) => void,
  ) {
    this.autoApprove = options.autoApprove ?? false
  }

  /** Whether this service answers the request (the SSO paths, unsigned). */
  static handles(path: string): boolean {
    return ['/client/register', '/device_authorization', '/federation/credentials', '/logout', '/token'].includes(path)
  }

  /** The user codes waiting for approval. */
  get pending(): string[] {
    return [...this.authorizations.values()].filter((a) => !a.approved).map((a) => a.userCode)
  }

  approve(userCode?: string): void {
    for (const a of this.authorizations.values())
      if (userCode === undefined || a.userCode === userCode) a.approved = true
  }

  setAutoApprove(on: boolean): void {
    this.autoApprove = on
  }

  /** Every access token issued so far expires now (a refresh token still gets a new one). */
  expireAccessTokens(): void {
    for (const t of this.accessTokens.values()) t.expiresAt = 0
  }

  /** Every refresh token stops working (the sign-in ended): av must ask for `av login`. */
  revokeRefreshTokens(): void {
    this.refreshTokens.clear()
  }

  count(operation: string): number {
    return this.requests.filter((r) => r.operation === operation).length
  }

  handle({body, path, query, req, res}: SsoExchange): void {
    let doc: Record<string, unknown> = {}
    try {
      doc = body ? (JSON.parse(body) as Record<string, unknown>) : {}
    } catch {}

    const bearer = req.headers['x-amz-sso_bearer_token']
    const token = typeof bearer === 'string' ? bearer : undefined
    switch (path) {
      case '/client/register': {
        const clientId = `avclient${randomBytes(6).toString('hex')}`
        const clientSecret = secret('Client')
        this.clients.set(clientId, clientSecret)
        this.requests.push({accepted: true, at: Date.now(), operation: 'RegisterClient'})
        const now = Math.floor(Date.now() / 1000)
        this.json(res, 200, {clientId, clientIdIssuedAt: now, clientSecret, clientSecretExpiresAt: now + 90 * 86_400})
        return
      }

      case '/device_authorization': {
        const ok = this.clientOk(doc)
        this.requests.push({accepted: ok, at: Date.now(), operation: 'StartDeviceAuthorization'})
        if (!ok) return this.error(res, 401, 'InvalidClientException', 'invalid_client')
        const userCode = `AVCD-${randomBytes(2).toString('hex').toUpperCase()}`
        const deviceCode = secret('Device')
        this.authorizations.set(deviceCode, {
          approved: this.autoApprove,
          clientId: doc.clientId as string,
          deviceCode,
          userCode,
        })
        this.json(res, 200, {
          deviceCode,
          expiresIn: 600,
          interval: 1,
          userCode,
          verificationUri: 'https://device.sso.test/',
          verificationUriComplete: `https://device.sso.test/?user_code=${userCode}`,
        })
        return
      }

      case '/federation/credentials': {
        const live = token !== undefined && (this.accessTokens.get(token)?.expiresAt ?? 0) > Date.now()
        const role = `${String(query.account_id)}/${String(query.role_name)}`
        const allowed = this.options.roles.includes(role)
        this.requests.push({accepted: live && allowed, at: Date.now(), operation: 'GetRoleCredentials'})
        if (!live) return this.error(res, 401, 'UnauthorizedException', 'Session token not found or invalid')
        if (!allowed) return this.error(res, 403, 'ForbiddenException', 'No access')
        const key: CanaryCredentials = {
          accessKeyId: `ASIAAVCANARYSSO0${randomBytes(2).toString('hex').toUpperCase()}`,
          arn: `arn:aws:sts::${String(query.account_id)}:assumed-role/AWSReservedSSO_${String(query.role_name)}/av-sso-user`,
          secretAccessKey: secret('Role'),
          sessionToken: secret('RoleToken'),
        }
        this.addKey(key)
        this.json(res, 200, {
          roleCredentials: {
            accessKeyId: key.accessKeyId,
            expiration: Date.now() + (this.options.roleSeconds ?? 3600) * 1000,
            secretAccessKey: key.secretAccessKey,
            sessionToken: key.sessionToken,
          },
        })
        return
      }

      case '/logout': {
        const live = token !== undefined && this.accessTokens.delete(token)
        this.requests.push({accepted: live, at: Date.now(), operation: 'Logout'})
        if (!live) return this.error(res, 401, 'UnauthorizedException', 'Session token not found or invalid')
        res.writeHead(200, {'content-type': 'application/json'})
        res.end()
        return
      }

      case '/token': {
        this.token(res, doc)
        return
      }

      default: {
        this.error(res, 404, 'ResourceNotFoundException', 'unknown')
      }
    }
  }

  private clientOk(doc: Record<string, unknown>): boolean {
    return typeof doc.clientId === 'string' && this.clients.get(doc.clientId) === doc.clientSecret
  }

  private issue(res: ServerResponse, clientId: string): void {
    const accessToken = secret('Access')
    const refreshToken = secret('Refresh')
    const seconds = this.options.accessSeconds ?? 3600
    this.accessTokens.set(accessToken, {clientId, expiresAt: Date.now() + seconds * 1000})
    this.refreshTokens.set(refreshToken, clientId)
    this.json(res, 200, {accessToken, expiresIn: seconds, refreshToken, tokenType: 'Bearer'})
  }

  private token(res: ServerResponse, doc: Record<string, unknown>): void {
    const ok = this.clientOk(doc)
    const grant = doc.grantType
    const operation = grant === 'refresh_token' ? 'CreateToken(refresh)' : 'CreateToken(device)'
    if (!ok) {
      this.requests.push({accepted: false, at: Date.now(), operation})
      return this.error(res, 401, 'InvalidClientException', 'invalid_client')
    }

    if (grant === 'refresh_token') {
      const refresh = typeof doc.refreshToken === 'string' ? doc.refreshToken : ''
      const owner = this.refreshTokens.get(refresh)
      this.requests.push({accepted: owner === doc.clientId, at: Date.now(), operation})
      if (owner === undefined || owner !== doc.clientId) {
        return this.error(res, 400, 'InvalidGrantException', 'invalid_grant')
      }

      this.refreshTokens.delete(refresh)
      return this.issue(res, owner)
    }

    const authorization = this.authorizations.get(typeof doc.deviceCode === 'string' ? doc.deviceCode : '')
    const valid = authorization !== undefined && authorization.clientId === doc.clientId
    this.requests.push({accepted: valid && authorization.approved, at: Date.now(), operation})
    if (!valid) return this.error(res, 400, 'InvalidGrantException', 'invalid_grant')
    if (!authorization.approved) return this.error(res, 400, 'AuthorizationPendingException', 'authorization_pending')
    this.authorizations.delete(authorization.deviceCode)
    this.issue(res, authorization.clientId)
  }

  private json(res: ServerResponse, status: number, doc: unknown): void {
    res.writeHead(status, {'content-type': 'application/json', 'x-amzn-requestid': randomBytes(8).toString('hex')})
    res.end(JSON.stringify(doc))
  }

  private error(res: ServerResponse, status: number, type: string, error: string): void {
    res.writeHead(status, {'content-type': 'application/json', 'x-amzn-errortype': type})
    res.end(JSON.stringify({error, error_description: 'av test endpoint'})) // eslint-disable-line camelcase -- OAuth's field
  }
}

export const LOGIN_CLIENT = 'arn:aws:signin:::devtools/same-device'

export interface LoginRequestRecord {
  operation: 'CreateOAuth2Token'
  at: number
  /** A DPoP proof signed with the key the refresh token was issued to, for this method and URL. */
  dpop: boolean
  accepted: boolean
}

/**
 * AWS sign-in's token service for console sign-in profiles (`aws login`): CreateOAuth2Token (`POST /v1/token`) with a
 * refresh token, which must come with a DPoP proof (an ES256 JWT over the method and URL) signed by the key the
 * refresh token was issued to. Each answer is 15-minute credentials (added to the endpoint's keys) and a new refresh
 * token; the old one stops working.
 */
export class LoginService {
  readonly requests: LoginRequestRecord[] = []
  private readonly refreshTokens = new Map<string, {jwk: JsonWebKey; principal: string}>()

  constructor(private readonly addKey: (key: CanaryCredentials) => void) {}

  static handles(path: string): boolean {
    return path === '/v1/token'
  }

  /** A sign-in as `aws login` would make it, bound to `jwk` (the DPoP key's public half). */
  issue(jwk: JsonWebKey, principal: string): {credentials: CanaryCredentials; refreshToken: string} {
    const refreshToken = secret('LoginRefresh')
    this.refreshTokens.set(refreshToken, {jwk, principal})
    return {credentials: this.credentials(principal), refreshToken}
  }

  /** Every refresh token stops working (the 12-hour sign-in ended). */
  revoke(): void {
    this.refreshTokens.clear()
  }

  count(): number {
    return this.requests.filter((r) => r.accepted).length
  }

  handle({body, req, res}: SsoExchange): void {
    let doc: Record<string, unknown> = {}
    try {
      doc = JSON.parse(body) as Record<string, unknown>
    } catch {}

    const refresh = typeof doc.refreshToken === 'string' ? doc.refreshToken : ''
    const held = this.refreshTokens.get(refresh)
    const proof = req.headers.dpop
    const dpop = held !== undefined && typeof proof === 'string' && dpopValid(proof, held.jwk, req)
    const accepted = held !== undefined && dpop && doc.grantType === 'refresh_token' && doc.clientId === LOGIN_CLIENT
    this.requests.push({accepted, at: Date.now(), dpop, operation: 'CreateOAuth2Token'})
    if (!accepted) {
      res.writeHead(400, {'content-type': 'application/json', 'x-amzn-errortype': 'AccessDeniedException'})
      res.end(JSON.stringify({error: 'TOKEN_EXPIRED', message: 'av test endpoint'}))
      return
    }

    this.refreshTokens.delete(refresh)
    const next = secret('LoginRefresh')
    this.refreshTokens.set(next, held)
    const key = this.credentials(held.principal)
    res.writeHead(200, {'content-type': 'application/json'})
    res.end(
      JSON.stringify({
        accessToken: {
          accessKeyId: key.accessKeyId,
          secretAccessKey: key.secretAccessKey,
          sessionToken: key.sessionToken,
        },
        expiresIn: 900,
        refreshToken: next,
        tokenType: 'aws_sigv4',
      }),
    )
  }

  private credentials(principal: string): CanaryCredentials {
    const key: CanaryCredentials = {
      accessKeyId: `ASIAAVCANARYLGN0${randomBytes(2).toString('hex').toUpperCase()}`,
      arn: principal,
      secretAccessKey: secret('LoginRole'),
      sessionToken: secret('LoginToken'),
    }
    this.addKey(key)
    return key
  }
}

/** An ES256 DPoP proof over this request, signed by the key whose public half is `jwk`. */
function dpopValid(proof: string, jwk: JsonWebKey, req: IncomingMessage): boolean {
  try {
    const [head, body, signature] = proof.split('.')
    const header = JSON.parse(Buffer.from(head!, 'base64url').toString('utf8')) as {alg?: string; jwk?: JsonWebKey}
    const payload = JSON.parse(Buffer.from(body!, 'base64url').toString('utf8')) as {htm?: string; htu?: string}
    if (header.alg !== 'ES256' || header.jwk?.x !== jwk.x || header.jwk?.y !== jwk.y) return false
    if (payload.htm !== req.method || !payload.htu?.endsWith(req.url ?? '')) return false
    return verify(
      'sha256',
      Buffer.from(`${head}.${body}`),
      {dsaEncoding: 'ieee-p1363', format: 'jwk', key: jwk},
      Buffer.from(signature!, 'base64url'),
    )
  } catch {
    return false
  }
}
