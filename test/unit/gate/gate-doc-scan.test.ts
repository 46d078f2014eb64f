// The documentation scan (scripts/doc-scan.ts): its verdicts on hand-made hits, the model reader on a small fixture
// tree (plain and gzip-compressed models), every generated row through the real classifier, and — where the
// Debian awscli package is installed, as in CI — the committed outputs against a fresh run of the generator.
import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {fileURLToPath} from 'node:url'
import {gzipSync} from 'node:zlib'

import {
  cliOperationName,
  findModelsDir,
  type Hit,
  judge,
  renderLedger,
  renderRules,
  runDocScan,
  scanModels,
} from '../../../scripts/doc-scan.js'
import {DEFAULT_POLICY} from '../../../src/lib/core/policy.js'
import {awsCommandTree, commandTreeFrom} from '../../../src/lib/gate/aws-commands.js'
import {classifyArgv} from '../../../src/lib/gate/classify.js'
import {DOC_ROWS} from '../../../src/lib/gate/doc-rules.generated.js'
import {CATALOG_ROWS} from '../../../src/lib/gate/rules.generated.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const dir = mkdtempSync(path.join(tmpdir(), 'av-doc-scan-'))
after(() => rmSync(dir, {force: true, recursive: true}))

// A CLI with the two commands the hand-made hits name, and one the catalog covers.
const tree = commandTreeFrom({
  commands: {
    demo: {s: {'get-thing': {o: '', t: 'op'}}, t: 'svc'},
    sts: {s: {'get-session-token': {o: '', t: 'op'}}, t: 'svc'},
  },
  globals: '',
})

function hit(member: string, doc: string, extra: Partial<Hit> = {}): Hit {
  return {
    command: 'demo get-thing',
    container: null,
    doc,
    enum: false,
    kinds: ['secret'],
    member,
    operation: 'GetThing',
    sensitive: false,
    sensitiveInside: false,
    service: 'demo',
    type: 'string',
    ...extra,
  }
}

describe('doc scan: verdicts', () => {
  const covered = new Set(['sts get-session-token'])
  const cases: Array<[string, Hit, string, string, string?]> = [
    ['a pagination token', hit('NextToken', 'The token for the next set of results.'), 'excluded', 'pagination-token'],
    [
      'an idempotency token',
      hit('ClientRequestToken', 'A unique token that authorizes nothing: idempotency.', {kinds: ['token-authorizes']}),
      'excluded',
      'idempotency-token',
    ],
    ['a public key', hit('PublicKey', 'The public half of the private key.'), 'excluded', 'public-key'],
    ['a KMS key id', hit('KmsKeyId', 'The KMS key that encrypts the secret.'), 'excluded', 'reference'],
    ['a secret ARN', hit('SecretArn', 'The ARN of the secret.'), 'excluded', 'reference'],
    [
      'a boolean',
      hit('PasswordResetRequired', 'Whether the password must be reset.', {type: 'boolean'}),
      'excluded',
      'scalar',
    ],
    ['an enum', hit('CredentialType', 'The type of credentials.', {enum: true}), 'excluded', 'enum'],
    ['a status', hit('SecretStatus', 'The status of the secret.'), 'excluded', 'metadata'],
    [
      "RDS's pending master password (returned as ****)",
      hit('DBInstance.PendingModifiedValues.MasterUserPassword', 'The master credentials for the DB instance.', {
        kinds: ['credentials'],
      }),
      'excluded',
      'masked-pending-password',
    ],
    [
      'a value the service filters in responses',
      hit('Password', 'Set Password to the password. In responses, the service returns *****FILTERED***** instead.'),
      'excluded',
      'filtered-in-responses',
    ],
    [
      'a structure whose members are judged on their own',
      hit('Credentials', 'The credentials.', {type: 'structure'}),
      'excluded',
      'container',
    ],
    ['a word in passing', hit('Comment', 'Comments about the secret rotation.'), 'excluded', 'in-passing'],
    [
      'a value marked sensitive',
      hit('SecretString', 'The decrypted secret.', {sensitive: true}),
      'row',
      'sensitive-trait',
      'decrypted-secret',
    ],
    [
      'a presigned URL',
      hit('DownloadUrl', 'A presigned URL, valid for 15 minutes.', {kinds: ['presigned-url', 'url-valid-for']}),
      'row',
      'presigned-url',
      'signed-url',
    ],
    [
      'a password by name',
      hit('TemporaryPassword', 'The temporary password.', {kinds: ['password']}),
      'row',
      'secret-name',
      'password',
    ],
    [
      'a map whose keys include client_secret',
      hit('ProviderDetails', 'Keys: client_id, client_secret, authorize_scopes.', {container: 'map'}),
      'row',
      'secret-keyed-map',
      'credential',
    ],
    [
      'a structure holding a sensitive member',
      hit('EngineAttributes', 'Returns the private key of the server.', {
        kinds: ['private-key'],
        sensitiveInside: true,
        type: 'structure',
      }),
      'row',
      'sensitive-inside',
      'private-key',
    ],
    [
      'a code that works like a password',
      hit('ActivationCode', 'The activation code functions like a password.', {kinds: ['password']}),
      'row',
      'password-like',
      'password',
    ],
    [
      'a command the catalog covers',
      hit('Credentials.SecretAccessKey', 'The secret access key.', {command: 'sts get-session-token', sensitive: true}),
      'covered',
      'catalog',
    ],
    ['a command the CLI does not have', hit('Secret', 'The secret.', {command: 'demo get-other'}), 'not-in-cli', 'cli'],
  ]
  for (const [what, h, verdict, rule, category] of cases) {
    it(`${what} → ${verdict} (${rule})`, () => {
      const v = judge(h, covered, tree)
      assert.equal(v.verdict, verdict, v.reason)
      assert.equal(v.rule, rule)
      assert.ok(v.reason.length > 10)
      if (category) assert.equal(v.verdict === 'row' ? v.category : null, category)
    })
  }
})

describe('doc scan: operation names as the CLI spells them (botocore xform_name)', () => {
  const cases: Array<[string, string]> = [
    ['GetSessionToken', 'get-session-token'],
    ['GetOnClusterAppUIPresignedURL', 'get-on-cluster-app-ui-presigned-url'],
    ['ListWebACLs', 'list-web-acls'],
    ['DescribeDBInstances', 'describe-db-instances'],
    ['CreateCachediSCSIVolume', 'create-cached-iscsi-volume'],
  ]
  for (const [operation, cli] of cases) {
    it(`${operation} → ${cli}`, () => assert.equal(cliOperationName(operation), cli))
  }
})

/** A one-operation model whose output holds a list of entries with one documented, sensitive member. */
const model = (documentation: string) => ({
  operations: {GetThing: {output: {shape: 'GetThingResponse'}}, PutThing: {}},
  shapes: {
    Entry: {members: {Token: {documentation, shape: 'Secret'}}, type: 'structure'},
    Entries: {member: {shape: 'Entry'}, type: 'list'},
    GetThingResponse: {
      members: {Items: {documentation: 'The items.', shape: 'Entries'}, NextToken: {shape: 'String'}},
      type: 'structure',
    },
    Secret: {sensitive: true, type: 'string'},
    String: {type: 'string'},
  },
})
describe('doc scan: reading models', () => {
  const data = path.join(dir, 'data')
  // An old version (ignored: botocore loads the newest), a plain model and a gzip-compressed one.
  mkdirSync(path.join(data, 'plain', '2019-01-01'), {recursive: true})
  writeFileSync(path.join(data, 'plain', '2019-01-01', 'service-2.json'), JSON.stringify(model('old, no hit')))
  mkdirSync(path.join(data, 'plain', '2020-01-01'), {recursive: true})
  writeFileSync(path.join(data, 'plain', '2020-01-01', 'service-2.json'), JSON.stringify(model('The secret token.')))
  mkdirSync(path.join(data, 'zipped', '2020-01-01'), {recursive: true})
  writeFileSync(
    path.join(data, 'zipped', '2020-01-01', 'service-2.json.gz'),
    gzipSync(JSON.stringify(model('A password for the thing.'))),
  )
  writeFileSync(path.join(data, 'endpoints.json'), '{}')

  it('reads plain and gzip-compressed models, the newest version, through lists', () => {
    const scan = scanModels(data)
    assert.equal(scan.services, 2)
    assert.equal(scan.operations, 2, 'an operation without output is not counted')
    assert.equal(scan.members, 6, 'Items, NextToken and Items.Token, in each of two services')
    assert.deepEqual(
      scan.hits.map((h) => [h.command, h.member, h.kinds.join(','), h.sensitive, h.container]),
      [
        ['plain get-thing', 'Items.Token', 'secret', true, null],
        ['zipped get-thing', 'Items.Token', 'password', true, null],
      ],
    )
  })

  it('finds the models directory among candidates, or says there is none', () => {
    assert.equal(findModelsDir([path.join(dir, 'nope'), data]), data)
    assert.equal(findModelsDir([path.join(dir, 'nope')]), null)
  })
})

describe('doc scan: every generated row through the real classifier', () => {
  const deps = {env: {HOME: '/nonexistent'}, home: '/nonexistent', policy: DEFAULT_POLICY}
  const catalog = new Set(CATALOG_ROWS.map(([command]) => command))
  assert.ok(DOC_ROWS.length > 20)
  for (const [command, category, condition, confidence, reason, evidence] of DOC_ROWS) {
    const held = confidence !== 'low'
    it(`aws ${command} → ${held ? 'approve' : 'allow'} (${category}, ${confidence})`, () => {
      assert.equal(condition, 'always')
      assert.ok(!catalog.has(command), 'a row only for commands the catalog does not cover')
      assert.match(reason, /^documented: /)
      assert.match(evidence, /^doc(\+name)?(\+sensitive-trait)?$/)
      const [service, operation] = command.split(' ')
      assert.ok(awsCommandTree().command(service!)?.s?.[operation!], 'a command of the installed CLI')
      const {decision} = classifyArgv(['aws', ...command.split(' ')], deps)
      assert.equal(decision.decision, held ? 'approve' : 'allow', decision.reason)
      assert.ok([category, 'elevated'].includes(decision.category!), `${decision.category}: ${decision.reason}`)
    })
  }

  it('catches what the catalog missed: opsworks-cm server credentials, Cognito client secrets, SSM activation codes', () => {
    for (const line of [
      'aws opsworks-cm create-server --engine ChefAutomate --server-name s --instance-profile-arn a --instance-type m5.large --service-role-arn r',
      'aws opsworkscm describe-servers',
      'aws cognito-idp describe-identity-provider --user-pool-id p --provider-name Google',
      'aws ssm create-activation --iam-role r',
    ]) {
      const {decision} = classifyArgv(line.split(' '), deps)
      assert.equal(decision.decision, 'approve', `${line}: ${decision.reason}`)
      assert.match(decision.rule ?? '', /^(opsworks-?cm|cognito-idp|ssm) /)
    }
  })
})

describe('doc scan: the committed outputs are what the generator writes now', () => {
  const models = findModelsDir()
  // CI installs the Debian awscli package (scripts/install-deps.sh); elsewhere there are no models to compare.
  it(
    'src/lib/gate/doc-rules.generated.ts and docs/gate-doc-scan.tsv',
    {skip: models ? false : 'no awscli models'},
    () => {
      const doc = runDocScan(models!)
      assert.equal(doc.cli, awsCommandTree().cli, 'the models and the command tree come from the same CLI')
      const rules = readFileSync(path.join(root, 'src', 'lib', 'gate', 'doc-rules.generated.ts'), 'utf8')
      const ledger = readFileSync(path.join(root, 'docs', 'gate-doc-scan.tsv'), 'utf8')
      assert.ok(
        rules === renderRules(doc),
        'doc-rules.generated.ts is stale: run node --import tsx scripts/generate-doc-rules.ts',
      )
      assert.ok(
        ledger === renderLedger(doc),
        'docs/gate-doc-scan.tsv is stale: run node --import tsx scripts/generate-doc-rules.ts',
      )
    },
  )
})
