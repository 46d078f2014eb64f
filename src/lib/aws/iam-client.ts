/**
 * av's own IAM calls for `av rotate` (ListAccessKeys, CreateAccessKey, DeleteAccessKey on the caller's own user),
 * behind a small interface so rotate.ts can be tested with a fake.
 *
 * The SDK's client-iam package is not a dependency; IAM's Query API is a form POST signed with SigV4, which
 * `@smithy/signature-v4` (already in the SDK's tree) does, with a SHA-256 over node:crypto. The endpoint is always
 * explicit: genuine IAM, or the root policy's `iam.endpoint` (tests), never anything from the user's environment.
 */
import {createHash, createHmac, type Hash, type Hmac} from 'node:crypto'

import type {Policy} from '../core/policy.js'
import type {AwsKeyPair} from '../store/credentials.js'

export interface IamTarget {
  credentials: AwsKeyPair
  /** Absolute URL of IAM (genuine, or the root policy's `iam.endpoint`). */
  endpoint: string
  /** SigV4 signing region (IAM is global: us-east-1, or its partition's). */
  region: string
  /** How long one attempt may wait for IAM's answer (10 s unless a caller, like `av doctor`, wants less). */
  timeoutMs?: number
}

export interface AccessKeyInfo {
  accessKeyId: string
  status: string
  /** Milliseconds since the epoch. */
  createDate: number
}

export interface IamApi {
  listAccessKeys(target: IamTarget): Promise<AccessKeyInfo[]>
  createAccessKey(target: IamTarget): Promise<AwsKeyPair>
  deleteAccessKey(target: IamTarget, accessKeyId: string): Promise<void>
}

/** IAM for av's calls: the root policy's `iam.endpoint`, else the genuine one of the profile region's partition. */
export function iamEndpointOf(
  region: string | undefined,
  policy: Pick<Policy, 'iam'>,
): {endpoint: string; region: string} {
  const partition = region?.startsWith('cn-') ? 'cn' : region?.startsWith('us-gov-') ? 'gov' : 'aws'
  const signing = {aws: 'us-east-1', cn: 'cn-north-1', gov: 'us-gov-west-1'}[partition]
  if (policy.iam?.endpoint) return {endpoint: policy.iam.endpoint, region: signing}
  const endpoint = {
    aws: 'https://iam.amazonaws.com',
    cn: 'https://iam.cn-north-1.amazonaws.com.cn',
    gov: 'https://iam.us-gov.amazonaws.com',
  }[partition]
  return {endpoint, region: signing}
}

/** The Checksum @smithy/signature-v4 wants, over node:crypto: SHA-256, or HMAC-SHA256 when given a secret. */
type SourceData = ArrayBuffer | ArrayBufferView | string

function bytes(data: SourceData): Buffer | string {
  if (typeof data === 'string') return data
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  return Buffer.from(data)
}

class NodeSha256 {
  private hash: Hash | Hmac
  private readonly secret?: Buffer | string

  constructor(secret?: SourceData) {
    this.secret = secret === undefined ? undefined : bytes(secret)
    this.hash = this.fresh()
  }

  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest())
  }

  reset(): void {
    this.hash = this.fresh()
  }

  update(data: SourceData): void {
    this.hash.update(bytes(data))
  }

  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', this.secret)
  }
}

const VERSION = '2010-05-08'
const TIMEOUT_MS = 10_000
const MAX_ATTEMPTS = 3
const RETRIED = new Set(['InternalFailure', 'RequestLimitExceeded', 'ServiceUnavailable', 'Throttling'])

/** An IAM error as the SDK would throw it: `name` is AWS's error code. Messages carry no secret. */
export function iamError(code: string, message: string, status?: number): Error {
  return Object.assign(new Error(message), {name: code, ...(status ? {$metadata: {httpStatusCode: status}} : {})})
}

function unescapeXml(text: string): string {
  return text
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&apos;', "'")
    .replaceAll('&amp;', '&')
}

function tag(xml: string, name: string): string | undefined {
  const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)
  return m ? unescapeXml(m[1]!) : undefined
}

async function post(
  url: URL,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
): Promise<{body: string; status: number}> {
  // Loaded here, not at the top: node:https costs every process that bundles this module ~10 ms at start, and only
  // rotate and doctor call IAM (the root launcher and custody entry bundle it for them).
  const {request: send} = url.protocol === 'https:' ? await import('node:https') : await import('node:http')
  return new Promise((resolve, reject) => {
    const req = send(url, {headers, method: 'POST', timeout: timeoutMs}, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({body: Buffer.concat(chunks).toString('utf8'), status: res.statusCode ?? 0}))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(Object.assign(new Error('IAM did not answer in time'), {name: 'TimeoutError'})))
    req.on('error', reject)
    req.end(body)
  })
}

/** One signed IAM Query call; retries throttling and server errors; throws iamError for AWS's error answers. */
async function call(target: IamTarget, action: string, params: Record<string, string> = {}): Promise<string> {
  const {SignatureV4} = await import('@smithy/signature-v4')
  const url = new URL(target.endpoint)
  const body = new URLSearchParams({Action: action, Version: VERSION, ...params}).toString()
  const signer = new SignatureV4({
    credentials: target.credentials,
    region: target.region,
    service: 'iam',
    sha256: NodeSha256,
  })
  for (let attempt = 1; ; attempt++) {
    // eslint-disable-next-line no-await-in-loop -- retries are sequential by nature
    const signed = await signer.sign({
      body,
      headers: {'content-type': 'application/x-www-form-urlencoded; charset=utf-8', host: url.host},
      hostname: url.hostname,
      method: 'POST',
      path: url.pathname || '/',
      port: url.port ? Number(url.port) : undefined,
      protocol: url.protocol,
      query: {},
    })
    // eslint-disable-next-line no-await-in-loop
    const answer = await post(url, signed.headers as Record<string, string>, body, target.timeoutMs ?? TIMEOUT_MS)
    if (answer.status >= 200 && answer.status < 300) return answer.body
    const code = tag(answer.body, 'Code') ?? `HTTP${answer.status}`
    if ((RETRIED.has(code) || answer.status >= 500) && attempt < MAX_ATTEMPTS) {
      // eslint-disable-next-line no-await-in-loop
      await new Promise((resolve) => {
        setTimeout(resolve, 200 * 2 ** attempt)
      })
      continue
    }

    throw iamError(code, tag(answer.body, 'Message') ?? `IAM ${action} failed`, answer.status)
  }
}

function dateOf(text: string | undefined): number {
  const ms = text === undefined ? Number.NaN : Date.parse(text)
  return Number.isNaN(ms) ? 0 : ms
}

/** The real IAM, over its Query API. */
export const queryIam: IamApi = {
  async createAccessKey(target) {
    const xml = await call(target, 'CreateAccessKey')
    const accessKeyId = tag(xml, 'AccessKeyId')
    const secretAccessKey = tag(xml, 'SecretAccessKey')
    if (!accessKeyId || !secretAccessKey) throw iamError('IncompleteResponse', 'CreateAccessKey returned no key')
    return {accessKeyId, secretAccessKey}
  },

  async deleteAccessKey(target, accessKeyId) {
    await call(target, 'DeleteAccessKey', {AccessKeyId: accessKeyId})
  },

  async listAccessKeys(target) {
    const xml = await call(target, 'ListAccessKeys')
    return [...xml.matchAll(/<member>([\S\s]*?)<\/member>/g)].map(([, member]) => ({
      accessKeyId: tag(member!, 'AccessKeyId') ?? '',
      createDate: dateOf(tag(member!, 'CreateDate')),
      status: tag(member!, 'Status') ?? '',
    }))
  },
}
