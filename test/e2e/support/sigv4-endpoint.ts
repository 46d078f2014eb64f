/**
 * A local AWS test endpoint on 127.0.0.1 that verifies the SigV4 signature of every request with
 * `@smithy/signature-v4` against known canary credentials, records what it received, and answers a few operations
 * with the XML the AWS CLI expects: STS GetCallerIdentity, GetSessionToken and AssumeRole (query protocol, form POST
 * or GET), S3 ListBuckets (path style). A request whose signature does not verify gets a 403 XML error.
 * GetSessionToken signed with session credentials is refused (AccessDenied), as AWS does; issued sessions verify
 * like the configured keys from then on. IAM ListUsers (query protocol) is answered for the configured keys and for
 * sessions GetSessionToken issued with SerialNumber and TokenCode; a session issued without MFA is refused
 * (AccessDenied), as AWS refuses IAM calls made with a non-MFA session token.
 *
 * IAM ListAccessKeys, CreateAccessKey and DeleteAccessKey (query protocol) act on the keys of the signer's IAM user
 * (`user`, default `av-canary`): the configured durable keys and the ones CreateAccessKey made, at most two per user
 * (LimitExceeded), a new key refused as unknown (InvalidClientTokenId) for `keyDelayMs` after its creation, as
 * IAM's eventual consistency does, and a deleted key refused from then on.
 *
 * It can hold requests open (`hold()` / `release()`) so that a test can look at a live `aws` run while it waits.
 */
import {Sha256} from '@aws-crypto/sha256-js'
import {SignatureV4} from '@smithy/signature-v4'
import {createHash, randomBytes, timingSafeEqual} from 'node:crypto'
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  ServerResponse as ServerResponseClass,
} from 'node:http'
import {type AddressInfo} from 'node:net'

import {LoginService, type SsoOptions, SsoService} from './sso-endpoint.js'

export interface CanaryCredentials {
  accessKeyId: string
  secretAccessKey: string
  /** When set, requests signed with this key must carry exactly this X-Amz-Security-Token. */
  sessionToken?: string
  /** Issued sessions: GetSessionToken was called with SerialNumber and TokenCode. */
  mfa?: boolean
  /** The IAM user a durable key belongs to (default `av-canary`). */
  user?: string
  /** Milliseconds since the epoch: when CreateAccessKey made it (configured keys: 2026-01-02). */
  created?: number
  /** Refused as unknown before this time (a key just created). */
  validFrom?: number
  /** What GetCallerIdentity names for this key (default the IAM user `av-canary`). */
  arn?: string
}

export interface RecordedRequest {
  method: string
  path: string
  query: Record<string, string | string[]>
  headers: Record<string, string>
  body: string
  /** From the Authorization header's credential scope (null when there was none or it did not parse). */
  accessKeyId: null | string
  region: null | string
  service: null | string
  /** STS Action or `ListBuckets`, when recognised. */
  operation: null | string
  verified: boolean
  /** Why verification failed (null when verified). */
  failure: null | string
  hasSecurityToken: boolean
  at: number
}

export interface EndpointOptions {
  /** Loopback address to listen on (default 127.0.0.1; any 127.x.y.z works on Linux). */
  host?: string
  credentials: CanaryCredentials[]
  account?: string
  /** Bucket names listed by S3 ListBuckets. */
  buckets?: string[]
  /** Lifetime of the session credentials GetSessionToken hands out (default 3600 s). */
  sessionSeconds?: number
  /**
   * Start of issued session secrets (default `avCanarySecretSession`, which the canary grep finds). A suite that
   * must tell durable from session secrets apart gives one without the mark, e.g. `avCanarySessionSecret`.
   */
  sessionSecretPrefix?: string
  /** How long a key CreateAccessKey made is refused as unknown (default 1500 ms). */
  keyDelayMs?: number
  /** Serve IAM Identity Center (OIDC and portal, unsigned) too: see sso-endpoint.ts. */
  sso?: SsoOptions
}

interface ReceivedRequest {
  method: string
  path: string
  query: Record<string, string | string[]>
  headers: Record<string, string>
  body: Buffer
}

interface ParsedAuthorization {
  accessKeyId: string
  date: string
  region: string
  service: string
  signedHeaders: string[]
  signature: string
}

const AUTH_PATTERN =
  /^AWS4-HMAC-SHA256 Credential=([^/\s,]+)\/(\d{8})\/([^/\s,]+)\/([^/\s,]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/

export function parseAuthorization(value: string | undefined): ParsedAuthorization | null {
  const match = value ? AUTH_PATTERN.exec(value.trim()) : null
  if (!match) return null
  const [, accessKeyId, date, region, service, headers, signature] = match
  return {
    accessKeyId: accessKeyId!,
    date: date!,
    region: region!,
    service: service!,
    signedHeaders: headers!.split(';'),
    signature: signature!,
  }
}

function parseQuery(raw: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {}
  if (!raw) return query
  for (const pair of raw.split('&')) {
    if (!pair) continue
    const eq = pair.indexOf('=')
    const key = decodeURIComponent(eq === -1 ? pair : pair.slice(0, eq))
    const value = eq === -1 ? '' : decodeURIComponent(pair.slice(eq + 1))
    const prior = query[key]
    query[key] = prior === undefined ? value : [...(Array.isArray(prior) ? prior : [prior]), value]
  }

  return query
}

function formParams(body: string): Record<string, string> {
  const params: Record<string, string> = {}
  for (const [k, v] of new URLSearchParams(body)) params[k] = v
  return params
}

/** `20261128T111000Z` → Date. */
function amzDate(value: string): Date | null {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value)
  return m ? new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`) : null
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** An IAM timestamp; configured keys were made on 2026-01-02. */
function iso(ms: number | undefined): string {
  return new Date(ms ?? Date.UTC(2026, 0, 2)).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

function xmlEscape(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')
}

/** `{mfa: true}` for a GetSessionToken call that passed SerialNumber and TokenCode, else nothing. */
function withMfa(action: string, params: Record<string, string>): {mfa?: true} {
  return action === 'GetSessionToken' && params.SerialNumber && params.TokenCode ? {mfa: true} : {}
}

export class SigV4Endpoint {
  readonly requests: RecordedRequest[] = []
  private readonly host: string
  private readonly credentials = new Map<string, CanaryCredentials>()
  private readonly account: string
  private readonly buckets: string[]
  private readonly sessionSeconds: number
  private readonly sessionSecretPrefix: string
  private readonly keyDelayMs: number
  /** IAM Identity Center, when the options asked for it. */
  readonly sso?: SsoService
  /** AWS sign-in's token service (console sign-in refresh), always there: it answers only tokens it issued. */
  readonly login: LoginService
  /** Access key ids DeleteAccessKey removed. */
  readonly deleted: string[] = []
  /** When set, every verified STS call is answered with this error code (e.g. `Throttling`) until cleared. */
  failWith: null | string = null
  private server?: Server
  private holding: ((r: RecordedRequest) => boolean) | false = false
  private held: Array<() => void> = []
  private losing = false
  private waiters: Array<{predicate: (r: RecordedRequest) => boolean; resolve: (r: RecordedRequest) => void}> = []

  constructor(options: EndpointOptions) {
    this.host = options.host ?? '127.0.0.1'
    for (const c of options.credentials) this.credentials.set(c.accessKeyId, c)
    this.account = options.account ?? '123456789012'
    this.buckets = options.buckets ?? ['av-canary-bucket']
    this.sessionSeconds = options.sessionSeconds ?? 3600
    this.sessionSecretPrefix = options.sessionSecretPrefix ?? 'avCanarySecretSession'
    this.keyDelayMs = options.keyDelayMs ?? 1500
    if (options.sso) this.sso = new SsoService(options.sso, (key) => this.addKey(key))
    this.login = new LoginService((key) => this.addKey(key))
  }

  get port(): number {
    const address = this.server?.address() as AddressInfo | null | undefined
    if (!address) throw new Error('endpoint not started')
    return address.port
  }

  get url(): string {
    return `http://${this.host}:${this.port}`
  }

  /** Session credentials issued by GetSessionToken (they verify like the configured ones). */
  get issued(): CanaryCredentials[] {
    return [...this.credentials.values()].filter((c) => c.sessionToken !== undefined)
  }

  /** The durable keys of an IAM user, as ListAccessKeys answers them (configured and created ones). */
  iamKeys(user = 'av-canary'): CanaryCredentials[] {
    return [...this.credentials.values()].filter(
      (c) => c.sessionToken === undefined && (c.user ?? 'av-canary') === user,
    )
  }

  /** Add a durable key (a second key the user made elsewhere, say). */
  addKey(key: CanaryCredentials): void {
    this.credentials.set(key.accessKeyId, key)
  }

  removeKey(accessKeyId: string): void {
    this.credentials.delete(accessKeyId)
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        res.writeHead(500, {'content-type': 'text/plain'})
        res.end(String(error))
      })
    })
    await new Promise<void>((resolve) => {
      this.server!.listen(0, this.host, resolve)
    })
    return this
  }

  async stop(): Promise<void> {
    this.release()
    const {server} = this
    if (!server) return
    server.closeAllConnections()
    await new Promise<void>((resolve) => {
      server.close(() => resolve())
    })
    this.server = undefined
  }

  /**
   * From now on, answers to requests that match `predicate` (default: all) wait until `release()` (requests are
   * still recorded on arrival). `lose`: the request is carried out at once, and on release its connection is cut
   * instead of answered: the caller never learns what happened (a CreateAccessKey whose new key is never seen).
   */
  hold(predicate: (r: RecordedRequest) => boolean = () => true, options: {lose?: boolean} = {}): void {
    this.holding = predicate
    this.losing = options.lose === true
  }

  release(): void {
    this.holding = false
    const {held} = this
    this.held = []
    for (const go of held) go()
  }

  /** Resolves with the first recorded request (past or future) that matches. */
  async waitForRequest(predicate: (r: RecordedRequest) => boolean = () => true, timeoutMs = 20_000) {
    const found = this.requests.find((r) => predicate(r))
    if (found) return found
    return new Promise<RecordedRequest>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done)
        reject(new Error(`no matching request reached the endpoint within ${timeoutMs} ms`))
      }, timeoutMs)
      const done = (r: RecordedRequest) => {
        clearTimeout(timer)
        resolve(r)
      }

      this.waiters.push({predicate, resolve: done})
    })
  }

  clear(): void {
    this.requests.length = 0
  }

  // eslint-disable-next-line complexity -- parse, verify, record, answer: each step is a line or two
  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const body = Buffer.concat(chunks)
    const rawUrl = req.url ?? '/'
    const q = rawUrl.indexOf('?')
    const path = q === -1 ? rawUrl : rawUrl.slice(0, q)
    const query = parseQuery(q === -1 ? '' : rawUrl.slice(q + 1))
    const headers: Record<string, string> = {}
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value
    }

    if (headers.authorization === undefined && LoginService.handles(path)) {
      this.login.handle({body: body.toString('utf8'), path, query, req, res})
      return
    }

    if (this.sso && headers.authorization === undefined && SsoService.handles(path)) {
      this.sso.handle({body: body.toString('utf8'), path, query, req, res})
      return
    }

    const auth = parseAuthorization(headers.authorization)
    const verdict = await this.verify({method: req.method ?? 'GET', path, query, headers, body}, auth)
    const bodyText = body.toString('utf8')
    const params = {...(typeof query.Action === 'string' ? {Action: query.Action} : {}), ...formParams(bodyText)}
    // Query services name the operation in Action; JSON services in X-Amz-Target (`secretsmanager.GetSecretValue`).
    const target = headers['x-amz-target']?.split('.').at(-1) ?? null
    const operation = auth?.service === 's3' ? s3Operation(req.method ?? '', path) : (params.Action ?? target)
    const record: RecordedRequest = {
      method: req.method ?? '',
      path,
      query,
      headers,
      body: bodyText,
      accessKeyId: auth?.accessKeyId ?? null,
      region: auth?.region ?? null,
      service: auth?.service ?? null,
      operation,
      verified: verdict === null,
      failure: verdict,
      hasSecurityToken: headers['x-amz-security-token'] !== undefined,
      at: Date.now(),
    }
    this.requests.push(record)
    for (const w of this.waiters) {
      if (w.predicate(record)) {
        this.waiters = this.waiters.filter((x) => x !== w)
        w.resolve(record)
      }
    }

    if (this.holding && this.holding(record)) {
      const lose = this.losing
      if (lose) this.answer(new ServerResponseClass(req), record, params)
      await new Promise<void>((resolve) => {
        this.held.push(resolve)
      })
      if (lose) {
        res.destroy()
        return
      }
    }

    if (res.destroyed) return
    this.answer(res, record, params)
  }

  /** Null when the signature verifies, else the reason. */
  // eslint-disable-next-line complexity -- one flat list of checks reads best as it is
  private async verify(received: ReceivedRequest, auth: null | ParsedAuthorization): Promise<null | string> {
    const {body, headers, method, path, query} = received
    if (!auth) return 'missing or malformed Authorization header'
    const known = this.credentials.get(auth.accessKeyId)
    if (!known) return 'unknown access key id'
    if (known.validFrom !== undefined && Date.now() < known.validFrom) return 'unknown access key id'
    const dateHeader = headers['x-amz-date']
    const signingDate = dateHeader ? amzDate(dateHeader) : null
    if (!signingDate || !dateHeader!.startsWith(auth.date)) return 'x-amz-date missing or outside the credential scope'
    if (Math.abs(Date.now() - signingDate.getTime()) > 15 * 60 * 1000) return 'request time too skewed'
    if (!auth.signedHeaders.includes('host')) return 'host is not signed'
    const token = headers['x-amz-security-token']
    if (known.sessionToken !== undefined && (token === undefined || !sameText(token, known.sessionToken))) {
      return 'security token missing or wrong'
    }

    if (known.sessionToken === undefined && token !== undefined) return 'unexpected security token'
    if (token !== undefined && !auth.signedHeaders.includes('x-amz-security-token')) {
      return 'x-amz-security-token is not signed'
    }

    // The payload: a declared hash must match the body unless the client said it left the payload unsigned.
    const declared = headers['x-amz-content-sha256']
    const actual = createHash('sha256').update(body).digest('hex')
    if (declared !== undefined && declared !== 'UNSIGNED-PAYLOAD' && declared !== actual) {
      return 'x-amz-content-sha256 does not match the body'
    }

    const signed: Record<string, string> = {}
    for (const name of auth.signedHeaders) {
      const value = headers[name]
      if (value === undefined) return `signed header ${name} is absent`
      signed[name] = value
    }

    const signer = new SignatureV4({
      applyChecksum: false,
      credentials: {
        accessKeyId: known.accessKeyId,
        secretAccessKey: known.secretAccessKey,
        ...(token === undefined ? {} : {sessionToken: token}),
      },
      region: auth.region,
      service: auth.service,
      sha256: Sha256,
      // S3 signs the path as sent; every other service URI-encodes it once more.
      uriEscapePath: auth.service !== 's3',
    })
    const [host, port] = (headers.host ?? '').split(':')
    const result = await signer.sign(
      {
        method,
        protocol: 'http:',
        hostname: host ?? '',
        port: port ? Number(port) : undefined,
        path,
        query,
        headers: signed,
        body,
      },
      {signingDate, signableHeaders: new Set(auth.signedHeaders)},
    )
    const expected = parseAuthorization((result.headers as Record<string, string>).authorization)
    if (!expected) return 'could not compute the expected signature'
    if (expected.signedHeaders.join(';') !== auth.signedHeaders.join(';')) return 'signed headers list differs'
    return sameText(expected.signature, auth.signature) ? null : 'signature does not match'
  }

  private answer(res: ServerResponse, record: RecordedRequest, params: Record<string, string>): void {
    const requestId = randomBytes(8).toString('hex')
    const s3 = record.service === 's3'
    if (!record.verified) {
      const code =
        record.failure === 'unknown access key id'
          ? s3
            ? 'InvalidAccessKeyId'
            : 'InvalidClientTokenId'
          : 'SignatureDoesNotMatch'
      const message = xmlEscape(`av test endpoint: ${record.failure}`)
      const xml = s3
        ? `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>${requestId}</RequestId></Error>`
        : `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`
      this.send(res, 403, xml, requestId)
      return
    }

    if (s3 && (record.operation === 'GetObject' || record.operation === 'HeadObject')) {
      const object = Buffer.from(S3_OBJECT)
      res.writeHead(200, {
        'content-length': object.length,
        'content-type': 'application/octet-stream',
        etag: '"0"',
        'last-modified': 'Fri, 02 Jan 2026 03:04:05 GMT',
        'x-amz-request-id': requestId,
      })
      res.end(record.operation === 'GetObject' ? object : undefined)
      return
    }

    if (s3 && record.operation === 'ListBuckets') {
      const buckets = this.buckets
        .map(
          (b) => `<Bucket><Name>${xmlEscape(b)}</Name><CreationDate>2026-01-02T03:04:05.000Z</CreationDate></Bucket>`,
        )
        .join('')
      const xml =
        `<?xml version="1.0" encoding="UTF-8"?>\n<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
        `<Owner><ID>${'c'.repeat(64)}</ID><DisplayName>av-canary</DisplayName></Owner><Buckets>${buckets}</Buckets></ListAllMyBucketsResult>`
      this.send(res, 200, xml, requestId)
      return
    }

    const ns = 'https://sts.amazonaws.com/doc/2011-06-15/'
    if (record.service === 'iam' && ['CreateAccessKey', 'DeleteAccessKey', 'ListAccessKeys'].includes(params.Action!)) {
      this.answerAccessKeys(res, record, params, requestId)
      return
    }

    if (record.service === 'iam' && params.Action === 'ListUsers') {
      this.answerListUsers(res, record, requestId)
      return
    }

    if (record.service === 'sts' && params.Action === 'GetCallerIdentity') {
      const arn = this.credentials.get(record.accessKeyId ?? '')?.arn ?? `arn:aws:iam::${this.account}:user/av-canary`
      const xml =
        `<GetCallerIdentityResponse xmlns="${ns}"><GetCallerIdentityResult>` +
        `<Arn>${xmlEscape(arn)}</Arn><UserId>AIDAAVCANARY00000000</UserId>` +
        `<Account>${this.account}</Account></GetCallerIdentityResult>` +
        `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></GetCallerIdentityResponse>`
      this.send(res, 200, xml, requestId)
      return
    }

    if (record.service === 'sts' && this.failWith) {
      const xml = `<ErrorResponse xmlns="${ns}"><Error><Type>Sender</Type><Code>${this.failWith}</Code><Message>av test endpoint</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`
      this.send(res, 400, xml, requestId)
      return
    }

    if (record.service === 'sts' && (params.Action === 'GetSessionToken' || params.Action === 'AssumeRole')) {
      const action = params.Action
      if (action === 'GetSessionToken' && record.hasSecurityToken) {
        const xml = `<ErrorResponse xmlns="${ns}"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>Cannot call GetSessionToken with session credentials</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`
        this.send(res, 403, xml, requestId)
        return
      }

      const issued: CanaryCredentials = {
        ...withMfa(action, params),
        accessKeyId: `ASIAAVCANARY${randomBytes(4).toString('hex').toUpperCase()}`,
        secretAccessKey: `${this.sessionSecretPrefix}${randomBytes(9).toString('hex')}`,
        sessionToken: `avCanarySessionToken${randomBytes(24).toString('hex')}`,
      }
      this.credentials.set(issued.accessKeyId, issued)
      const seconds = Number(params.DurationSeconds ?? this.sessionSeconds)
      const expiration = new Date(Date.now() + seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z')
      const credentials =
        `<Credentials><AccessKeyId>${issued.accessKeyId}</AccessKeyId><SecretAccessKey>${issued.secretAccessKey}</SecretAccessKey>` +
        `<SessionToken>${issued.sessionToken}</SessionToken><Expiration>${expiration}</Expiration></Credentials>`
      const session = xmlEscape(params.RoleSessionName ?? '')
      const role = xmlEscape((params.RoleArn ?? '').split('/').pop() ?? '')
      const assumed =
        action === 'AssumeRole'
          ? `<AssumedRoleUser><AssumedRoleId>AROAAVCANARY00000000:${session}</AssumedRoleId>` +
            `<Arn>arn:aws:sts::${this.account}:assumed-role/${role}/${session}</Arn></AssumedRoleUser>`
          : ''
      const xml =
        `<${action}Response xmlns="${ns}"><${action}Result>${credentials}${assumed}</${action}Result>` +
        `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`
      this.send(res, 200, xml, requestId)
      return
    }

    const xml = s3
      ? `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NotImplemented</Code><Message>av test endpoint</Message><RequestId>${requestId}</RequestId></Error>`
      : `<ErrorResponse xmlns="${ns}"><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>av test endpoint: unsupported</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`
    this.send(res, 400, xml, requestId)
  }

  /** IAM access keys of the signer's user: list, create (two at most, valid after keyDelayMs), delete. */
  private answerAccessKeys(
    res: ServerResponse,
    record: RecordedRequest,
    params: Record<string, string>,
    requestId: string,
  ): void {
    const ns = 'https://iam.amazonaws.com/doc/2010-05-08/'
    const fail = (status: number, code: string, message: string) =>
      this.send(
        res,
        status,
        `<ErrorResponse xmlns="${ns}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
        requestId,
      )
    const ok = (action: string, result: string) =>
      this.send(
        res,
        200,
        `<${action}Response xmlns="${ns}"><${action}Result>${result}</${action}Result><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`,
        requestId,
      )
    const signer = this.credentials.get(record.accessKeyId ?? '')
    if (!signer || (signer.sessionToken !== undefined && signer.mfa !== true)) {
      fail(403, 'InvalidClientTokenId', 'The security token included in the request is invalid')
      return
    }

    const user = signer.user ?? 'av-canary'
    const keys = this.iamKeys(user)
    const action = params.Action!
    if (action === 'ListAccessKeys') {
      const members = keys
        .map(
          (k) =>
            `<member><UserName>${user}</UserName><AccessKeyId>${k.accessKeyId}</AccessKeyId><Status>Active</Status><CreateDate>${iso(k.created)}</CreateDate></member>`,
        )
        .join('')
      ok(
        action,
        `<UserName>${user}</UserName><AccessKeyMetadata>${members}</AccessKeyMetadata><IsTruncated>false</IsTruncated>`,
      )
      return
    }

    if (action === 'CreateAccessKey') {
      if (keys.length >= 2) {
        fail(409, 'LimitExceeded', 'Cannot exceed quota for AccessKeysPerUser: 2')
        return
      }

      const now = Date.now()
      const key: CanaryCredentials = {
        accessKeyId: `AKIAAVCANARY${randomBytes(4).toString('hex').toUpperCase()}`,
        created: now,
        secretAccessKey: `avCanarySecretRotated/${randomBytes(12).toString('base64url')}`,
        user,
        validFrom: now + this.keyDelayMs,
      }
      this.credentials.set(key.accessKeyId, key)
      ok(
        action,
        `<AccessKey><UserName>${user}</UserName><AccessKeyId>${key.accessKeyId}</AccessKeyId><Status>Active</Status>` +
          `<SecretAccessKey>${key.secretAccessKey}</SecretAccessKey><CreateDate>${iso(now)}</CreateDate></AccessKey>`,
      )
      return
    }

    const target = keys.find((k) => k.accessKeyId === params.AccessKeyId)
    if (!target) {
      fail(404, 'NoSuchEntity', `The Access Key with id ${params.AccessKeyId ?? ''} cannot be found`)
      return
    }

    this.credentials.delete(target.accessKeyId)
    this.deleted.push(target.accessKeyId)
    ok(action, '')
  }

  /** IAM refuses a GetSessionToken session obtained without MFA; durable keys and MFA sessions may list users. */
  private answerListUsers(res: ServerResponse, record: RecordedRequest, requestId: string): void {
    const ns = 'https://iam.amazonaws.com/doc/2010-05-08/'
    const signer = this.credentials.get(record.accessKeyId ?? '')
    if (signer?.sessionToken !== undefined && signer.mfa !== true) {
      const xml = `<ErrorResponse xmlns="${ns}"><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid: IAM needs MFA for session credentials</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`
      this.send(res, 403, xml, requestId)
      return
    }

    const xml =
      `<ListUsersResponse xmlns="${ns}"><ListUsersResult><IsTruncated>false</IsTruncated><Users><member>` +
      `<Path>/</Path><UserName>av-canary</UserName><UserId>AIDAAVCANARY00000000</UserId>` +
      `<Arn>arn:aws:iam::${this.account}:user/av-canary</Arn><CreateDate>2026-01-02T03:04:05Z</CreateDate>` +
      `</member></Users></ListUsersResult><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></ListUsersResponse>`
    this.send(res, 200, xml, requestId)
  }

  private send(res: ServerResponse, status: number, xml: string, requestId: string): void {
    res.writeHead(status, {
      'content-type': 'text/xml',
      'content-length': Buffer.byteLength(xml),
      'x-amzn-requestid': requestId,
      'x-amz-request-id': requestId,
    })
    res.end(xml)
  }
}

export async function startEndpoint(options: EndpointOptions): Promise<SigV4Endpoint> {
  return new SigV4Endpoint(options).start()
}

/** What GetObject serves for any key (path-style `/<bucket>/<key>`). */
export const S3_OBJECT = 'av test object\n'

/** The S3 operations this endpoint knows: ListBuckets (`GET /`), GetObject and HeadObject (`/<bucket>/<key>`). */
function s3Operation(method: string, path: string): null | string {
  const isObject = /^\/[^/]+\/.+/.test(path.split('?')[0]!)
  if (method === 'GET' && path === '/') return 'ListBuckets'
  if (method === 'GET' && isObject) return 'GetObject'
  return method === 'HEAD' && isObject ? 'HeadObject' : null
}
