/**
 * A local STS for tests: verifies the SigV4 signature of every request with @smithy/signature-v4 against the keys
 * it knows, and answers valid STS query-protocol XML.
 *
 * - GetSessionToken must be signed with a DURABLE key (no session token); it answers a SESSION canary: the durable
 *   key id with AKIA → ASIA and a counter, a secret without "avCanarySecret" in it, a token and an expiration.
 * - AssumeRole may be signed with any known key (a durable key or an issued session with its token).
 * - GetCallerIdentity (the data plane of these tests) answers for any valid signature.
 * Every request is recorded: action, signing key id, whether a token was sent, whether the signature verified.
 */
import type {AddressInfo} from 'node:net'

import {Sha256} from '@aws-crypto/sha256-js'
import {SignatureV4} from '@smithy/signature-v4'
import {randomUUID} from 'node:crypto'
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'

export interface StsEndpointKey {
  accessKeyId: string
  secretAccessKey: string
  sessionToken?: string
}

export interface StsRequestRecord {
  action: string
  accessKeyId: null | string
  params: Record<string, string>
  securityToken: null | string
  signatureValid: boolean
  /** Who signed: a durable key, an issued session, or nobody we know. */
  signer: 'durable' | 'session' | 'unknown'
}

export interface StsEndpointOptions {
  durableKeys: StsEndpointKey[]
  /** Lifetime of issued sessions, seconds; default: the DurationSeconds asked (else 3600). */
  lifetimeSeconds?: number
  /** Answer every request with this STS error code instead (e.g. "Throttling"). */
  failWith?: string
}

export interface StsEndpoint {
  close(): Promise<void>
  /** Sessions issued so far, in order. */
  issued: StsEndpointKey[]
  options: StsEndpointOptions
  requests: StsRequestRecord[]
  url: string
}

const XMLNS = 'https://sts.amazonaws.com/doc/2011-06-15/'

function parseAuthorization(header: string | undefined) {
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([\da-f]{64})$/.exec(
      header ?? '',
    )
  if (!m) return null
  return {accessKeyId: m[1]!, region: m[3]!, service: m[4]!, signature: m[6]!, signedHeaders: m[5]!.split(';')}
}

function amzDate(value: string | undefined): Date | null {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value ?? '')
  return m ? new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`) : null
}

async function verify(req: IncomingMessage, body: string, key: StsEndpointKey): Promise<boolean> {
  const auth = parseAuthorization(req.headers.authorization)
  const date = amzDate(req.headers['x-amz-date'] as string | undefined)
  if (!auth || !date) return false
  const url = new URL(req.url ?? '/', 'http://localhost')
  const headers: Record<string, string> = {}
  for (const name of auth.signedHeaders) {
    const value = req.headers[name]
    if (value === undefined) return false
    headers[name] = Array.isArray(value) ? value.join(',') : value
  }

  const query: Record<string, string> = {}
  for (const [k, v] of url.searchParams) query[k] = v
  const signer = new SignatureV4({
    credentials: {accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey, sessionToken: key.sessionToken},
    region: auth.region,
    service: auth.service,
    sha256: Sha256,
  })
  const signed = await signer.sign(
    {body, headers, hostname: url.hostname, method: req.method ?? 'GET', path: url.pathname, protocol: 'http:', query},
    {signingDate: date, signableHeaders: new Set(auth.signedHeaders)},
  )
  const got = /Signature=([\da-f]{64})/.exec(String(signed.headers.authorization ?? signed.headers.Authorization))
  return got?.[1] === auth.signature
}

function credentialsXml(c: StsEndpointKey, expiration: Date): string {
  return (
    `<Credentials><AccessKeyId>${c.accessKeyId}</AccessKeyId><SecretAccessKey>${c.secretAccessKey}</SecretAccessKey>` +
    `<SessionToken>${c.sessionToken}</SessionToken><Expiration>${expiration.toISOString()}</Expiration></Credentials>`
  )
}

function reply(res: ServerResponse, status: number, xml: string): void {
  res.writeHead(status, {'content-type': 'text/xml', 'x-amzn-requestid': randomUUID()})
  res.end(`<?xml version="1.0" encoding="UTF-8"?>\n${xml}`)
}

function error(res: ServerResponse, status: number, code: string, message: string): void {
  reply(
    res,
    status,
    `<ErrorResponse xmlns="${XMLNS}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error>` +
      `<RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
  )
}

export async function startStsEndpoint(options: StsEndpointOptions): Promise<StsEndpoint> {
  const requests: StsRequestRecord[] = []
  const issued: StsEndpointKey[] = []

  function issue(durable: string, durationSeconds: number): {credentials: StsEndpointKey; expiration: Date} {
    const n = String(issued.length + 1).padStart(7, '0')
    const credentials = {
      accessKeyId: `ASIAAVCANARYS${n}`.slice(0, 20),
      secretAccessKey: `avCanarySessionSecret/${n}/${durable.slice(-4)}`,
      sessionToken: `avCanarySessionToken/${n}/${randomUUID()}`,
    }
    issued.push(credentials)
    const seconds = options.lifetimeSeconds ?? durationSeconds
    return {credentials, expiration: new Date(Math.floor(Date.now() / 1000) * 1000 + seconds * 1000)}
  }

  async function handle(req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
    const params: Record<string, string> = {}
    for (const [k, v] of new URLSearchParams(body)) params[k] = v
    for (const [k, v] of new URL(req.url ?? '/', 'http://localhost').searchParams) params[k] = v
    const action = params.Action ?? ''
    const auth = parseAuthorization(req.headers.authorization)
    const securityToken = (req.headers['x-amz-security-token'] as string | undefined) ?? null
    const durable = options.durableKeys.find((k) => k.accessKeyId === auth?.accessKeyId)
    const session = issued.find((k) => k.accessKeyId === auth?.accessKeyId)
    const key = durable ?? session
    const signatureValid =
      key !== undefined && (key.sessionToken ?? null) === securityToken && (await verify(req, body, key))
    const signer = durable ? 'durable' : session ? 'session' : 'unknown'
    requests.push({accessKeyId: auth?.accessKeyId ?? null, action, params, securityToken, signatureValid, signer})

    if (!key) return error(res, 403, 'InvalidClientTokenId', 'The security token included in the request is invalid.')
    if (!signatureValid) {
      return error(
        res,
        403,
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided.',
      )
    }

    if (options.failWith) return error(res, 400, options.failWith, `${options.failWith} (test endpoint)`)
    const requestId = `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata>`
    const duration = Number(params.DurationSeconds ?? 3600)

    if (action === 'GetSessionToken') {
      if (!durable) return error(res, 403, 'AccessDenied', 'Cannot call GetSessionToken with session credentials')
      const {credentials, expiration} = issue(durable.accessKeyId, duration)
      return reply(
        res,
        200,
        `<GetSessionTokenResponse xmlns="${XMLNS}"><GetSessionTokenResult>${credentialsXml(credentials, expiration)}` +
          `</GetSessionTokenResult>${requestId}</GetSessionTokenResponse>`,
      )
    }

    if (action === 'AssumeRole') {
      const {credentials, expiration} = issue(key.accessKeyId, duration)
      const role = (params.RoleArn ?? '').split('/').pop()
      return reply(
        res,
        200,
        `<AssumeRoleResponse xmlns="${XMLNS}"><AssumeRoleResult>${credentialsXml(credentials, expiration)}` +
          `<AssumedRoleUser><AssumedRoleId>AROAAVCANARY0000ROLE:${params.RoleSessionName}</AssumedRoleId>` +
          `<Arn>arn:aws:sts::123456789012:assumed-role/${role}/${params.RoleSessionName}</Arn></AssumedRoleUser>` +
          `</AssumeRoleResult>${requestId}</AssumeRoleResponse>`,
      )
    }

    if (action === 'GetCallerIdentity') {
      return reply(
        res,
        200,
        `<GetCallerIdentityResponse xmlns="${XMLNS}"><GetCallerIdentityResult>` +
          `<Arn>arn:aws:iam::123456789012:user/canary</Arn><UserId>${key.accessKeyId}</UserId>` +
          `<Account>123456789012</Account></GetCallerIdentityResult>${requestId}</GetCallerIdentityResponse>`,
      )
    }

    return error(res, 400, 'InvalidAction', `Could not find operation ${action}`)
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks).toString('utf8')).catch((error_: unknown) => {
        error(res, 500, 'InternalFailure', String(error_))
      })
    })
  })
  await new Promise<void>((resolve) => {
    server.listen(0, '127.0.0.1', resolve)
  })
  const {port} = server.address() as AddressInfo
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
    issued,
    options,
    requests,
    url: `http://127.0.0.1:${port}`,
  }
}

/** A server that records requests and answers 500: to prove nothing was sent to an endpoint the user named. */
export async function startTrap(): Promise<{close(): Promise<void>; hits: string[]; url: string}> {
  const hits: string[] = []
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`)
    res.writeHead(500).end()
  })
  await new Promise<void>((resolve) => {
    server.listen(0, '127.0.0.1', resolve)
  })
  const {port} = server.address() as AddressInfo
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
    hits,
    url: `http://127.0.0.1:${port}`,
  }
}
