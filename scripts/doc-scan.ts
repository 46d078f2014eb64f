/**
 * The documentation scan: the second source of the gate's catalog (build/dev time only; the product reads only
 * its output, src/lib/gate/doc-rules.generated.ts).
 *
 * It walks the output shape of every operation in the installed AWS CLI's botocore models
 * (`data/<service>/<version>/service-2.json`, or `.json.gz`), reads the documentation string of every member it
 * reaches, and keeps the members whose documentation describes a secret (presigned URL, URL valid for N
 * minutes, private key, password, secret, token that authorizes, credentials). Each hit is then, by the first
 * matching entry of VERDICTS (data, in order):
 *   - `covered`: the command already has a row in aws-sensitive-commands.tsv;
 *   - `not-in-cli`: the installed CLI has no such command (renamed or removed by a customization);
 *   - `excluded`: not a secret, with the reason (pagination and idempotency tokens, ARNs and names of secrets,
 *     public keys, fingerprints, booleans, enums, …);
 *   - `row`: a catalog row, with category, confidence and the evidence it rests on.
 * Everything is sorted, so the output depends on the models only. See scripts/generate-doc-rules.ts.
 */
import {existsSync, readdirSync, readFileSync} from 'node:fs'
import path from 'node:path'
import {gunzipSync} from 'node:zlib'

import type {Category} from '../src/lib/gate/types.js'

import {awsCommandTree, type CommandTree} from '../src/lib/gate/aws-commands.js'
import {CATALOG_ROWS} from '../src/lib/gate/rules.generated.js'

/** Where Debian's awscli (v2, vendored botocore) and a plain botocore keep their models. */
export const MODEL_DIRS = [
  '/usr/lib/python3/dist-packages/awscli/botocore/data',
  '/usr/lib/python3/dist-packages/botocore/data',
]

export function findModelsDir(candidates: string[] = MODEL_DIRS): null | string {
  return candidates.find((dir) => existsSync(dir)) ?? null
}

/** The wording that describes a secret, by kind. */
export const SECRET_WORDING: Array<[kind: string, pattern: RegExp]> = [
  ['presigned-url', /\bpre-?signed\b/i],
  [
    'url-valid-for',
    /\bUR[IL]\b[^.]{0,80}\b(valid|available|expires?)\b[^.]{0,40}\b\d+\s*(seconds?|minutes?|hours?)\b/i,
  ],
  ['private-key', /\bprivate key\b/i],
  ['password', /(\b|_)pass(word|phrase)s?\b/i],
  ['secret', /(\b|_)secrets?\b/i],
  ['token-authorizes', /\btokens?\b[^.]{0,60}\b(authori[sz]|authenticat)/i],
  ['credentials', /\bcredentials?\b/i],
]

export interface Hit {
  command: string
  service: string
  operation: string
  /** Member path from the output shape, e.g. `Credentials.SecretAccessKey`; list and map levels are skipped. */
  member: string
  /** SECRET_WORDING kinds found in the documentation. */
  kinds: string[]
  /** The member's value type: the shape type, or the element type of a list / value type of a map. */
  type: string
  /** A structure with a member (at any depth) that carries the sensitive trait. */
  sensitiveInside: boolean
  /** `list` or `map` when the member is one (its type is then the element's), else null. */
  container: 'list' | 'map' | null
  enum: boolean
  /** The member or its (element) shape carries botocore's `sensitive` trait. */
  sensitive: boolean
  /** The documentation as plain text (tags stripped, spaces collapsed). */
  doc: string
}

export type Verdict =
  | {verdict: 'covered' | 'not-in-cli'; rule: string; reason: string}
  | {verdict: 'excluded'; rule: string; reason: string}
  | {verdict: 'row'; rule: string; reason: string; category: Category}

interface VerdictRule {
  id: string
  verdict: 'excluded' | 'row'
  /** True when the rule applies to the hit. */
  when: (hit: Hit, name: string) => boolean
  reason: string
  /** Row rules: the category (a function of the hit for the name-based rule). */
  category?: (hit: Hit, name: string) => Category
}

const SCALARS = new Set(['boolean', 'double', 'float', 'integer', 'long', 'timestamp'])
const has = (hit: Hit, ...kinds: string[]) => kinds.some((k) => hit.kinds.includes(k))

/** The category a secret-describing member falls in, from its name first, then from the wording. */
export function categoryOf(hit: Hit, name: string): Category {
  const urlish = /pre-?signed|ur[il]s?$|location|link/i.test(name) || has(hit, 'presigned-url', 'url-valid-for')
  if (urlish && !/pass|secret|private|token|credential/i.test(name)) return 'signed-url'

  if (/private.?key/i.test(name)) return 'private-key'
  if (/pass(word|phrase)/i.test(name)) return 'password'
  if (/access.?key|credential/i.test(name)) return 'credential'
  if (/token/i.test(name)) return 'token'
  if (/secret/i.test(name)) return 'decrypted-secret'
  if (has(hit, 'private-key')) return 'private-key'
  if (has(hit, 'password')) return 'password'
  if (has(hit, 'credentials')) return 'credential'
  if (has(hit, 'token-authorizes')) return 'token'
  return 'decrypted-secret'
}

/** Words in a member name that say the member holds the secret itself. */
const SECRET_NAME = /pass(word|phrase)|secret|private.?key|token|credential|pre-?signed|session.?key|api.?key/i
/** A reference to a secret, a role or a key: names, ARNs and ids are not the value. */
const REFERENCE_NAME = /(Arn|ARN|Arns|ArnList|Id|ID|Ids|Identifier|Name|Names|KeyId|KeyID|ObjectKey|StringKey|Param)$/
const REFERENCE_DOC =
  /^(the |your |an? )?(amazon resource names? \(arns?\)|arns?|name or arn|arn or name|names?|ids?|identifier|(aws )?secrets manager (secret )?arn|secret arn)(?!\w)|arn:aws:secretsmanager|\b(arn|\(arn\)) of (the|an?) (aws )?(secrets manager )?secret|as an iam role|\biam role\b.{0,40}\b(assume|arn)\b/i
/** Member names that are never the secret value itself, sensitive trait or not. */
const NOT_A_VALUE = /fingerprint|digest|hash|public|(arn|id|name)$/i

/** Facts about a secret that are not the secret. */
const METADATA_NAME =
  /(Status|State|Date|Time|Count|Policy|Policies|Length|Age|LastUsed|Region|Regions|Description|OwningService|Expression|Duration|Type|Category|Message|Reason|Enabled|Required|Mode|Version|Stage|Stages|Rule|Rules|Tags|Field|Link|Configuration|Config|Settings|Options|Source|Provider|Host|User|Username|UserName|Email|Role|Window|startOn|Period|Days|Format|Size|Level|Algorithm|Spec|Scope|Scopes|Usage|Label|Labels|Path|Database|DbUser|Bucket|Prefix)$/i

/**
 * In order; the first that applies decides. Exclusions about what a value can be come first, then references and
 * metadata, then the rows (a sensitive trait, or a name that says secret), then the catch-all exclusion.
 */
export const VERDICTS: VerdictRule[] = [
  {
    id: 'scalar',
    reason: 'a number, boolean or timestamp cannot carry a secret',
    verdict: 'excluded',
    when: (hit) => SCALARS.has(hit.type),
  },
  {
    id: 'enum',
    reason: 'one of a fixed set of values (an enum in the model)',
    verdict: 'excluded',
    when: (hit) => hit.enum,
  },
  {
    id: 'pagination-token',
    reason: 'a pagination token (NextToken, PaginationToken, Marker): where the next page starts',
    verdict: 'excluded',
    when: (_hit, name) => /^(next|pagination|continuation|page|starting)?(page)?(token|marker)$/i.test(name),
  },
  {
    id: 'idempotency-token',
    reason: 'an idempotency token (ClientRequestToken, ClientToken) that the caller chose',
    verdict: 'excluded',
    when: (_hit, name) => /^(client(request)?|idempotency)token$/i.test(name),
  },
  {
    id: 'public-key',
    reason: 'a public key or certificate: public by design',
    verdict: 'excluded',
    when: (_hit, name) => /public|certificate(body|chain|pem)?s?$/i.test(name),
  },
  {
    id: 'fingerprint',
    reason: 'a fingerprint or digest of a key, or the name of its algorithm: not the key',
    verdict: 'excluded',
    when: (_hit, name) => /fingerprint|digest|hash|algorithm/i.test(name),
  },
  {
    id: 'encrypted',
    reason: 'encrypted under a KMS key: of no use without `kms decrypt`, which the gate holds itself',
    verdict: 'excluded',
    when: (_hit, name) => /ciphertext|encrypted/i.test(name),
  },
  {
    id: 'filtered-in-responses',
    reason: 'the documentation says responses carry *****FILTERED***** instead of the value',
    verdict: 'excluded',
    when: (hit) => /in responses,? .{0,60}\*+FILTERED\*+/i.test(hit.doc),
  },
  {
    id: 'masked-pending-password',
    reason:
      'a pending-change marker (PendingModifiedValues): RDS and the services built on it return **** there, never the password',
    verdict: 'excluded',
    when: (hit, name) => /^masteruserpassword$/i.test(name) && /(^|\.)pendingModifiedValues\./i.test(hit.member),
  },
  {
    id: 'dkim',
    reason: 'DKIM tokens are published in DNS as CNAME records: public by design',
    verdict: 'excluded',
    when: (hit, name) => /dkim/i.test(name) || /\bDKIM\b/.test(hit.doc),
  },
  {
    category: (hit) => (/client_secret/i.test(hit.doc) ? 'credential' : categoryOf(hit, '')),
    id: 'secret-keyed-map',
    reason: 'a map whose documented keys include a secret (client_secret, password, private key)',
    verdict: 'row',
    when: (hit) => hit.container === 'map' && /\b[a-z]+_(secret|password|private_?key)\b/i.test(hit.doc),
  },
  {
    category: () => 'token',
    id: 'invitation-url',
    reason: 'an invitation or sign-in link: whoever opens it completes the registration or signs in',
    verdict: 'row',
    when: (_hit, name) => /(invitation|invite|sign-?in|login).*ur[il]s?$/i.test(name),
  },
  {
    category: () => 'password',
    id: 'password-like',
    reason: 'documented as working like a password',
    verdict: 'row',
    when: (hit) => /\b(functions|acts|works|serves|is used) (like|as) a password\b/i.test(hit.doc),
  },
  {
    id: 'reference',
    reason: 'names a secret, key, parameter or role (ARN, id or name): not its value',
    verdict: 'excluded',
    when: (hit, name) => REFERENCE_NAME.test(name) || (REFERENCE_DOC.test(hit.doc) && !hit.sensitive),
  },
  {
    id: 'metadata',
    reason:
      "a fact about a secret (status, date, policy, type, rotation, location of a setting): not the secret's value",
    verdict: 'excluded',
    when: (_hit, name) => METADATA_NAME.test(name),
  },
  {
    id: 'endpoint-url',
    reason: 'the address of a token or authorization endpoint, not a token',
    verdict: 'excluded',
    when: (hit, name) => /(ur[il]s?|endpoint)$/i.test(name) && !has(hit, 'presigned-url', 'url-valid-for'),
  },
  {
    id: 'file-path',
    reason: 'the path of a file that holds the key on another host, not the key',
    verdict: 'excluded',
    when: (hit) => /stored on the file system|\b(file )?path (to|of) the\b/i.test(hit.doc),
  },
  {
    id: 'setting',
    reason: 'a setting that says whether something is required or enabled, not a value',
    verdict: 'excluded',
    when: (hit) => /^(indicates|specifies|determines)? ?whether\b/i.test(hit.doc),
  },
  {
    category: categoryOf,
    id: 'sensitive-inside',
    reason: 'documented as holding a secret, and a member inside it is marked sensitive in the model',
    verdict: 'row',
    when: (hit) => hit.type === 'structure' && hit.sensitiveInside,
  },
  {
    id: 'container',
    reason: 'a structure: the members inside it are scanned (and judged) on their own',
    verdict: 'excluded',
    when: (hit) => hit.type === 'structure' && !hit.sensitive,
  },
  {
    category: categoryOf,
    id: 'sensitive-trait',
    reason: 'documented as a secret and marked sensitive in the model',
    verdict: 'row',
    when: (hit) => hit.sensitive,
  },
  {
    category: () => 'signed-url',
    id: 'presigned-url',
    reason: 'documented as a presigned URL (or one valid for minutes): anyone holding it can use it',
    verdict: 'row',
    when: (hit, name) => has(hit, 'presigned-url', 'url-valid-for') && /ur[il]s?$|location|link|block/i.test(name),
  },
  {
    category: categoryOf,
    id: 'secret-name',
    reason: 'documented as a secret, and the member name says it holds one',
    verdict: 'row',
    when: (_hit, name) => SECRET_NAME.test(name),
  },
  {
    id: 'in-passing',
    reason: 'mentions the word in passing: neither the member name nor a sensitive trait says it holds a secret',
    verdict: 'excluded',
    when: () => true,
  },
]

export function judge(hit: Hit, covered: Set<string>, tree: CommandTree): Verdict {
  if (covered.has(hit.command)) {
    return {
      reason: 'the catalog (aws-sensitive-commands.tsv) has a row for the command',
      rule: 'catalog',
      verdict: 'covered',
    }
  }

  const [service, operation] = hit.command.split(' ')
  if (tree.command(service!)?.s?.[operation!] === undefined) {
    return {reason: 'the installed AWS CLI has no such command', rule: 'cli', verdict: 'not-in-cli'}
  }

  const name = hit.member.split('.').at(-1)!
  const rule = VERDICTS.find((r) => r.when(hit, name))!
  if (rule.verdict === 'row') {
    return {category: rule.category!(hit, name), reason: rule.reason, rule: rule.id, verdict: 'row'}
  }

  return {reason: rule.reason, rule: rule.id, verdict: 'excluded'}
}

// ---------------------------------------------------------------------------------------------------------------
// Reading the models

interface ShapeRef {
  shape: string
  documentation?: string
  sensitive?: boolean
}

interface Shape {
  type: string
  members?: Record<string, ShapeRef>
  member?: ShapeRef
  key?: ShapeRef
  value?: ShapeRef
  enum?: string[]
  sensitive?: boolean
}

interface Model {
  operations: Record<string, {output?: ShapeRef}>
  shapes: Record<string, Shape>
}

/** botocore's xform_name(name, '-'): the CLI's operation name. */
const XFORM_SPECIAL: Record<string, string> = {
  CreateCachediSCSIVolume: 'create-cached-iscsi-volume',
  CreateStorediSCSIVolume: 'create-stored-iscsi-volume',
  DescribeCachediSCSIVolumes: 'describe-cached-iscsi-volumes',
  DescribeStorediSCSIVolumes: 'describe-stored-iscsi-volumes',
  ExecutePartiQLBatch: 'execute-partiql-batch',
  ExecutePartiQLStatement: 'execute-partiql-statement',
  ExecutePartiQLTransaction: 'execute-partiql-transaction',
  ListHITsForQualificationType: 'list-hits-for-qualification-type',
}

export function cliOperationName(name: string): string {
  if (Object.hasOwn(XFORM_SPECIAL, name)) return XFORM_SPECIAL[name]!
  const plural = /[A-Z]{2,}s$/.exec(name)
  const base = plural ? `${name.slice(0, -plural[0].length)}-${plural[0].toLowerCase()}` : name
  return base
    .replaceAll(/(.)([A-Z][a-z]+)/g, '$1-$2')
    .replaceAll(/([a-z0-9])([A-Z])/g, '$1-$2')
    .toLowerCase()
}

/**
 * The CLI's names for services it renames (awscli/customizations: configservice, codedeploy, s3) or aliases
 * (opsworkscm: `opsworks-cm`, keeping `opsworkscm` as a hidden alias): a rule must name every one.
 */
export const CLI_SERVICE_NAMES: Record<string, string[]> = {
  codedeploy: ['deploy'],
  config: ['configservice'],
  opsworkscm: ['opsworks-cm', 'opsworkscm'],
  s3: ['s3api'],
}

function plainText(html: string | undefined): string {
  return (html ?? '')
    .replaceAll(/<[^>]*>/g, ' ')
    .replaceAll('&quot;', '"')
    .replaceAll('&amp;', '&')
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll(/\s+/g, ' ')
    .trim()
}

/** The model botocore loads for a service: the newest API version directory with a service-2 file. */
function readModel(dir: string): Model | null {
  for (const version of readdirSync(dir).sort().reverse()) {
    const plain = path.join(dir, version, 'service-2.json')
    if (existsSync(plain)) return JSON.parse(readFileSync(plain, 'utf8')) as Model
    const gz = `${plain}.gz`
    if (existsSync(gz)) return JSON.parse(gunzipSync(readFileSync(gz)).toString('utf8')) as Model
  }

  return null
}

export interface ScanResult {
  services: number
  operations: number
  /** Member visits: every member of every structure reachable from an operation's output, per operation. */
  members: number
  hits: Hit[]
}

export function scanModels(dataDir: string): ScanResult {
  const result: ScanResult = {hits: [], members: 0, operations: 0, services: 0}
  const services = readdirSync(dataDir, {withFileTypes: true})
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort()
  for (const service of services) {
    const model = readModel(path.join(dataDir, service))
    if (!model) continue
    result.services++
    for (const operation of Object.keys(model.operations).sort()) {
      const output = model.operations[operation]!.output?.shape
      if (!output) continue
      result.operations++
      const commands = (CLI_SERVICE_NAMES[service] ?? [service]).map((name) => `${name} ${cliOperationName(operation)}`)
      scanOutput(model, output, (member, ref, shape) => {
        result.members++
        const doc = plainText(ref.documentation)
        const kinds = SECRET_WORDING.filter(([, re]) => re.test(doc)).map(([kind]) => kind)
        if (kinds.length === 0) return
        const leaf = elementOf(model, shape)
        for (const command of commands)
          result.hits.push({
            command,
            container: shape.type === 'list' || shape.type === 'map' ? shape.type : null,
            doc,
            enum: leaf.enum !== undefined,
            kinds,
            member,
            operation,
            sensitive: ref.sensitive === true || shape.sensitive === true || leaf.sensitive === true,
            sensitiveInside: leaf.type === 'structure' && holdsSensitive(model, leaf, new Set()),
            service,
            type: leaf.type,
          })
      })
    }
  }

  return result
}

/**
 * Does a structure hold a member marked sensitive (through nested structures, lists and maps)? Members whose
 * name says they are a reference, a fingerprint or a public key do not count: the trait there guards privacy.
 */
function holdsSensitive(model: Model, shape: Shape, seen: Set<Shape>): boolean {
  if (seen.has(shape)) return false
  seen.add(shape)
  const refs: Array<[string, ShapeRef | undefined]> =
    shape.type === 'structure'
      ? Object.entries(shape.members ?? {})
      : [
          ['', shape.member],
          ['', shape.value],
        ]
  return refs.some(([name, ref]) => {
    const target = ref ? model.shapes[ref.shape] : undefined
    if (!ref || !target) return false
    const marked = (ref.sensitive === true || target.sensitive === true) && !NOT_A_VALUE.test(name)
    return marked || holdsSensitive(model, target, seen)
  })
}

/** The element of a list, the value of a map (through nesting), else the shape itself. */
function elementOf(model: Model, shape: Shape): Shape {
  let s = shape
  for (let depth = 0; depth < 5; depth++) {
    const next = s.type === 'list' ? s.member : s.type === 'map' ? s.value : undefined
    if (!next) break
    const found = model.shapes[next.shape]
    if (!found) break
    s = {...found, sensitive: found.sensitive === true || s.sensitive === true}
    if (s.type !== 'list' && s.type !== 'map') break
  }

  return s
}

function scanOutput(model: Model, root: string, visit: (member: string, ref: ShapeRef, shape: Shape) => void): void {
  const seen = new Set<string>()
  const walk = (name: string, trail: string[]) => {
    if (seen.has(name)) return
    seen.add(name)
    const shape = model.shapes[name]
    if (!shape) return
    if (shape.type === 'structure') {
      for (const member of Object.keys(shape.members ?? {}).sort()) {
        const ref = shape.members![member]!
        const target = model.shapes[ref.shape]
        if (!target) continue
        visit([...trail, member].join('.'), ref, target)
        walk(ref.shape, [...trail, member])
      }
    } else if (shape.type === 'list' && shape.member) {
      walk(shape.member.shape, trail)
    } else if (shape.type === 'map' && shape.value) {
      walk(shape.value.shape, trail)
    }
  }

  walk(root, [])
}

// ---------------------------------------------------------------------------------------------------------------
// The generated outputs

export type Confidence = 'high' | 'low' | 'medium'

export interface DocRow {
  command: string
  category: Category
  confidence: Confidence
  members: string[]
  evidence: string
}

/** Which category wins when one command documents several kinds of secret. */
const CATEGORY_ORDER: Category[] = ['credential', 'private-key', 'password', 'token', 'decrypted-secret', 'signed-url']

/**
 * Confidence from the evidence: the sensitive trait and a secret-naming member name together are high, anything
 * else that made a row is medium; a copy inside a Security Hub finding is low (allowed unless policy says approve).
 */
function confidenceOf(hit: Hit): Confidence {
  // A Security Hub finding mirrors another service's resource description: that service is where it is judged.
  if (/^Findings\.Resources\.Details\./.test(hit.member)) return 'low'
  const name = hit.member.split('.').at(-1)!
  const named = SECRET_NAME.test(name) || (has(hit, 'presigned-url', 'url-valid-for') && /ur[il]s?$/i.test(name))
  if (hit.sensitive && named) return 'high'
  return 'medium'
}

const RANK: Record<Confidence, number> = {high: 2, low: 0, medium: 1}

export function docRows(judged: Array<{hit: Hit; verdict: Verdict}>): DocRow[] {
  const byCommand = new Map<string, Hit[]>()
  const categories = new Map<string, Category[]>()
  for (const {hit, verdict} of judged) {
    if (verdict.verdict !== 'row') continue
    byCommand.set(hit.command, [...(byCommand.get(hit.command) ?? []), hit])
    categories.set(hit.command, [...(categories.get(hit.command) ?? []), verdict.category])
  }

  return [...byCommand.keys()].sort().map((command) => {
    const hits = byCommand.get(command)!
    const category = CATEGORY_ORDER.find((c) => categories.get(command)!.includes(c)) ?? 'decrypted-secret'
    const confidence = hits.map((h) => confidenceOf(h)).sort((a, b) => RANK[b] - RANK[a])[0]!
    const members = [...new Set(hits.map((h) => h.member))].sort()
    const evidence = [
      'doc',
      ...(hits.some((h) => SECRET_NAME.test(h.member.split('.').at(-1)!)) ? ['name'] : []),
      ...(hits.some((h) => h.sensitive) ? ['sensitive-trait'] : []),
    ].join('+')
    return {category, command, confidence, evidence, members}
  })
}

export interface DocScan {
  cli: string
  scan: ScanResult
  judged: Array<{hit: Hit; verdict: Verdict}>
  rows: DocRow[]
}

/** `aws-cli/<version>` of the awscli package whose vendored botocore holds these models, or null. */
export function modelsCli(dataDir: string): null | string {
  try {
    const init = readFileSync(path.join(dataDir, '..', '..', '__init__.py'), 'utf8')
    const version = /^__version__ = '([^']+)'/m.exec(init)?.[1]
    return version ? `aws-cli/${version}` : null
  } catch {
    return null
  }
}

export function runDocScan(dataDir: string, tree: CommandTree = awsCommandTree()): DocScan {
  const scan = scanModels(dataDir)
  const covered = new Set(CATALOG_ROWS.map(([command]) => command))
  const judged = scan.hits.map((hit) => ({hit, verdict: judge(hit, covered, tree)}))
  return {cli: modelsCli(dataDir) ?? 'an unknown AWS CLI', judged, rows: docRows(judged), scan}
}

const clip = (text: string, n: number) => (text.length > n ? `${text.slice(0, n - 1)}…` : text)

const rowReason = (r: DocRow) =>
  `documented: ${r.members.slice(0, 3).join(', ')}${r.members.length > 3 ? ` (+${r.members.length - 3} more)` : ''}`

/** src/lib/gate/doc-rules.generated.ts. */
export function renderRules(doc: DocScan): string {
  const rows = doc.rows.map((r) =>
    JSON.stringify([r.command, r.category, 'always', r.confidence, rowReason(r), r.evidence]),
  )
  const counts = countVerdicts(doc)
  return [
    `// Generated by scripts/generate-doc-rules.ts from the service models of ${doc.cli}. Do not edit: re-run it.`,
    `// ${doc.scan.members} output members scanned in ${doc.scan.operations} operations of ${doc.scan.services} services;`,
    `// ${doc.scan.hits.length} describe a secret: ${counts.covered} in commands the catalog covers, ${counts.row} make the rows below,`,
    `// ${counts.excluded} excluded as not a secret, ${counts['not-in-cli']} not commands of this CLI (docs/gate-doc-scan.tsv).`,
    "import type {DocRow} from './types.js'",
    '',
    `/** ${doc.rows.length} rows: [command, category, condition, confidence, reason, evidence]. */`,
    'export const DOC_ROWS: DocRow[] = [',
    ...rows.map((r) => `  ${r},`),
    ']',
    '',
  ].join('\n')
}

export function countVerdicts(doc: DocScan): Record<'covered' | 'excluded' | 'not-in-cli' | 'row', number> {
  const counts = {covered: 0, excluded: 0, 'not-in-cli': 0, row: 0}
  for (const {verdict} of doc.judged) counts[verdict.verdict]++
  return counts
}

/** docs/gate-doc-scan.tsv: every hit with its verdict and reason, sorted. */
export function renderLedger(doc: DocScan): string {
  const header = ['command', 'member', 'wording', 'type', 'sensitive', 'verdict', 'rule', 'category', 'reason', 'doc']
  const lines = doc.judged.map(({hit, verdict}) =>
    [
      hit.command,
      hit.member,
      hit.kinds.join(','),
      hit.type + (hit.enum ? '(enum)' : ''),
      hit.sensitive ? 'yes' : 'no',
      verdict.verdict,
      verdict.rule,
      verdict.verdict === 'row' ? verdict.category : '-',
      verdict.reason,
      clip(hit.doc, 160),
    ]
      .map((f) => f.replaceAll(/[\t\n]/g, ' '))
      .join('\t'),
  )
  return [header.join('\t'), ...[...new Set(lines)].sort()].join('\n') + '\n'
}
