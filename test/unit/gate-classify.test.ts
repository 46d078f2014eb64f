import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {parse as shellParse} from 'shell-quote'

import type {Category, Decision} from '../../src/lib/gate/types.js'

import {classifyArgv} from '../../src/lib/gate/classify.js'
import {isElevated, isElevatedRun} from '../../src/lib/gate/rules.js'
import {DEFAULT_POLICY, type Policy} from '../../src/lib/policy.js'

const dir = mkdtempSync(path.join(tmpdir(), 'av-gate-'))
after(() => rmSync(dir, {force: true, recursive: true}))
const home = path.join(dir, 'home')
const env = {HOME: home, INPUTS: dir}
writeFileSync(path.join(dir, 'decrypt.json'), JSON.stringify({Name: 'db', WithDecryption: true}))
writeFileSync(path.join(dir, 'plain.json'), JSON.stringify({Name: 'db'}))
writeFileSync(path.join(dir, 'decrypt.yaml'), 'Name: db\nWithDecryption: true\n')
writeFileSync(path.join(dir, 'attr.txt'), 'userData')
// ~ in file:// is the HOME the CLI runs with.
mkdirSync(home, {recursive: true})
writeFileSync(path.join(home, 'in.json'), JSON.stringify({SecretId: 'x'}))
writeFileSync(path.join(home, 'ssm.json'), JSON.stringify({Name: 'db', WithDecryption: true}))

const words = (line: string): string[] =>
  shellParse(line, (name: string) => `$${name}`).map((w) => {
    if (typeof w !== 'string') throw new Error(`bad test line ${line}`)
    return w
  })

function run(line: string, policy: Policy = DEFAULT_POLICY, extraEnv: Record<string, string> = {}) {
  return classifyArgv(words(line), {env: {...env, ...extraEnv}, home, policy})
}

type Case = [line: string, decision: Decision, category?: Category | null]

function table(name: string, cases: Case[], policy?: Policy) {
  describe(name, () => {
    for (const [line, decision, category] of cases) {
      it(`${line} → ${decision}${category === undefined ? '' : ` (${category})`}`, () => {
        const {decision: d} = run(line, policy)
        assert.equal(d.decision, decision, d.reason)
        if (category !== undefined) assert.equal(d.category, category, d.reason)
        assert.ok(d.reason.length > 0)
      })
    }
  })
}

table('look-alikes that stay allowed', [
  ['aws s3 ls', 'allow', null],
  ['aws s3 ls s3://bucket/prefix --recursive --human-readable', 'allow', null],
  ['aws s3 cp s3://bucket/a ./a', 'allow', null],
  ['aws sts get-caller-identity', 'allow', null],
  ['aws sts get-caller-identity --query Account --output text', 'allow', null],
  ['aws ssm get-parameter --name db', 'allow', null],
  ['aws ssm get-parameter --name db --no-with-decryption', 'allow', null],
  ['aws ssm get-parameter --name db --with-decryption --no-with-decryption', 'allow', null],
  ['aws ssm get-parameters --names a b c', 'allow', null],
  ['aws ssm get-parameters-by-path --path /app --recursive', 'allow', null],
  ['aws ssm describe-parameters', 'allow', null],
  [
    'aws kms decrypt --ciphertext-blob fileb://blob --recipient KeyEncryptionAlgorithm=RSAES_OAEP_SHA_256',
    'allow',
    null,
  ],
  ['aws kms generate-data-key --key-id k --recipient KeyEncryptionAlgorithm=RSAES_OAEP_SHA_256', 'allow', null],
  ['aws kms encrypt --key-id k --plaintext fileb://p', 'allow', null],
  ['aws kms list-keys', 'allow', null],
  ['aws ec2 describe-instances', 'allow', null],
  ['aws ec2 describe-instances --filters Name=tag:env,Values=prod --max-items 5', 'allow', null],
  ['aws ec2 describe-instance-attribute --instance-id i-1 --attribute instanceType', 'allow', null],
  ['aws help', 'allow', null],
  ['aws ssm help', 'allow', null],
  ['aws ssm get-parameter help', 'allow', null],
  ['aws secretsmanager get-secret-value help', 'allow', null],
  ['aws s3 presign help', 'allow', null],
  ['aws configure help', 'allow', null],
  ['aws --version', 'allow', null],
  ['aws secretsmanager list-secrets', 'allow', null],
  ['aws secretsmanager describe-secret --secret-id x', 'allow', null],
  ['aws secretsmanager get-secret-value --generate-cli-skeleton', 'allow', null],
  ['aws secretsmanager get-secret-value --generate-cli-skeleton input', 'allow', null],
  ['aws secretsmanager get-secret-value --secret-id x --generate-cli-skeleton output', 'allow', null],
  ['aws glue get-connection --name c --hide-password', 'allow', null],
  ['aws glue get-connections --hide-password', 'allow', null],
  ['aws apigateway get-api-key --api-key k', 'allow', null],
  ['aws apigateway get-api-key --api-key k --no-include-value', 'allow', null],
  ['aws apigateway get-api-keys', 'allow', null],
  ['aws codebuild update-webhook --project-name p', 'allow', null],
  ['aws workdocs get-document-version --document-id d --version-id v', 'allow', null],
  ['aws configure list-profiles', 'allow', null],
  ['aws lambda list-layers', 'allow', null],
  ['aws logs tail /aws/lambda/f', 'allow', null],
  ['aws dynamodb scan --table-name t', 'allow', null],
  ['aws cloudformation describe-stacks --stack-name s', 'allow', null],
  ['aws ec2 wait instance-running --instance-ids i-1', 'allow', null],
  ['aws s3api list-buckets', 'allow', null],
])

table(
  'allow when the root policy names the endpoint',
  [
    ['aws s3 ls --endpoint-url http://127.0.0.1:4566', 'allow', null],
    ['aws s3 ls --endpoint http://127.0.0.1:9000 --no-verify-ssl', 'allow', null],
    ['aws s3 ls --endpoint-url https://evil.example.com', 'approve', 'transport'],
    ['aws s3 ls --no-verify-ssl', 'approve', 'transport'],
    ['aws s3 ls --endpoint-url http://127.0.0.1:4566/', 'allow', null],
    ['aws s3 ls --endpoint-url http://127.0.0.1:80@evil.example.com', 'approve', 'transport'],
    ['aws s3 ls --endpoint-url http://127.0.0.1:80/@evil.example.com', 'approve', 'transport'],
    ['aws s3 ls --endpoint-url http://127.0.0.1.evil.example.com:80', 'approve', 'transport'],
    ['aws s3 ls --endpoint-url not-a-url', 'approve', 'transport'],
  ],
  {...DEFAULT_POLICY, endpoints: ['http://127.0.0.1:*']},
)

table('the catalog: always, by category', [
  ['aws secretsmanager get-secret-value --secret-id x', 'approve', 'decrypted-secret'],
  ['aws sts get-session-token', 'approve', 'credential'],
  ['aws sts assume-role --role-arn arn:aws:iam::1:role/r --role-session-name s', 'approve', 'credential'],
  ['aws iam create-access-key --user-name u', 'approve', 'credential'],
  ['aws ecr get-login-password', 'approve', 'password'],
  ['aws ecr get-authorization-token', 'approve', 'token'],
  ['aws eks get-token --cluster-name c', 'approve', 'token'],
  ['aws rds generate-db-auth-token --hostname h --port 5432 --username u', 'approve', 'token'],
  ['aws s3 presign s3://bucket/key', 'approve', 'signed-url'],
  ['aws s3 presign s3://bucket/key --expires-in 60', 'approve', 'signed-url'],
  ['aws ec2 get-password-data --instance-id i-1', 'approve', 'password'],
  ['aws ec2 create-key-pair --key-name k', 'approve', 'private-key'],
  ['aws codecommit credential-helper get', 'approve', 'credential'],
  ['aws ssm start-session --target i-1', 'approve', 'token'],
  ['aws ecs execute-command --cluster c --task t --interactive --command sh', 'approve', 'token'],
  [
    'aws cloudfront sign --url https://d.cloudfront.net/x --key-pair-id K --private-key file://k.pem --date-less-than 2030-01-01',
    'approve',
    'signed-url',
  ],
  ['aws lambda get-function --function-name f', 'approve'],
  [
    'aws iam create-virtual-mfa-device --virtual-mfa-device-name m --outfile /tmp/qr --bootstrap-method Base32StringSeed',
    'approve',
    'credential',
  ],
])

table('the catalog: conditions', [
  ['aws ssm get-parameter --name db --with-decryption', 'approve', 'decrypted-secret'],
  ['aws ssm get-parameters --names a b --with-decryption', 'approve', 'decrypted-secret'],
  ['aws ssm get-parameters-by-path --path /app --with-decryption', 'approve', 'decrypted-secret'],
  ['aws ssm get-parameter-history --name db --with-decryption', 'approve', 'decrypted-secret'],
  ['aws kms decrypt --ciphertext-blob fileb://blob', 'approve', 'decrypted-secret'],
  ['aws kms generate-data-key --key-id k', 'approve'],
  ['aws kms generate-data-key-pair --key-id k --key-pair-spec RSA_2048', 'approve', 'private-key'],
  ['aws glue get-connection --name c', 'approve', 'decrypted-secret'],
  ['aws glue get-connection --name c --no-hide-password', 'approve', 'decrypted-secret'],
  ['aws apigateway get-api-key --api-key k --include-value', 'approve', 'credential'],
  ['aws apigateway get-api-keys --include-values', 'approve', 'credential'],
  ['aws codebuild update-webhook --project-name p --rotate-secret', 'approve', 'credential'],
  ['aws workdocs get-document-version --document-id d --version-id v --fields SOURCE', 'approve', 'signed-url'],
  ['aws workdocs get-document-version --document-id d --version-id v --fields source', 'approve', 'signed-url'],
  // low confidence is allowed by default
  ['aws ec2 describe-instance-attribute --instance-id i-1 --attribute userData', 'allow', 'decrypted-secret'],
  ['aws kms generate-random --number-of-bytes 32', 'allow', 'decrypted-secret'],
])

table(
  'low confidence held when the policy says so',
  [
    ['aws ec2 describe-instance-attribute --instance-id i-1 --attribute userData', 'approve', 'decrypted-secret'],
    [
      'aws ec2 describe-instance-attribute --instance-id i-1 --attribute file://$INPUTS/attr.txt',
      'approve',
      'decrypted-secret',
    ],
    ['aws ec2 describe-instance-attribute --instance-id i-1 --attribute instanceType', 'allow', null],
    ['aws kms generate-random --number-of-bytes 32', 'approve'],
  ],
  {...DEFAULT_POLICY, decisions: {'confidence:low': 'approve'}},
)

table('hand-written rules', [
  ['aws configure', 'approve', 'credential'],
  ['aws configure list', 'approve', 'credential'],
  ['aws configure get aws_secret_access_key', 'approve', 'credential'],
  ['aws configure get region', 'approve', 'credential'],
  ['aws configure set region eu-west-1', 'approve', 'credential'],
  ['aws configure export-credentials', 'approve', 'credential'],
  ['aws configure export-credentials --format env', 'approve', 'credential'],
  ['aws configure sso', 'approve', 'credential'],
  ['aws history show', 'approve', 'credential'],
  ['aws history list', 'approve', 'credential'],
  ['aws --debug s3 ls', 'approve', 'debug'],
  ['aws s3 ls --debug', 'approve', 'debug'],
  ['aws s3 --debug ls', 'approve', 'debug'],
  ['aws s3 ls --deb', 'approve', 'debug'],
  ['aws sts get-caller-identity --debug', 'approve', 'debug'],
  ['aws s3 ls --endpoint-url https://evil.example.com', 'approve', 'transport'],
  ['aws s3 ls --endpoint-url=https://evil.example.com', 'approve', 'transport'],
  ['aws s3 ls --endpoint https://evil.example.com', 'approve', 'transport'],
  ['aws --endpoint-u=https://evil.example.com sts get-caller-identity', 'approve', 'transport'],
  ['aws s3 ls --no-verify-ssl', 'approve', 'transport'],
  ['aws s3 ls --ca-bundle /tmp/ca.pem', 'approve', 'transport'],
  [
    'aws cloudformation create-stack --stack-name s --template-body file://t --ca CAPABILITY_IAM',
    'approve',
    'transport',
  ],
  ['aws s3 ls --cli-auto-prompt', 'approve', 'unknown'],
])

table('programs the CLI would start inside the credentialed run are held', [
  ['aws emr ssh --cluster-id j-1 --key-pair-file k.pem', 'approve', 'external-program'],
  ['aws emr ssh --cluster-id j-1 --key-pair-file k.pem --command id', 'approve', 'external-program'],
  ['aws emr socks --cluster-id j-1 --key-pair-file k.pem', 'approve', 'external-program'],
  ['aws emr get --cluster-id j-1 --key-pair-file k.pem --src /home/hadoop/x', 'approve', 'external-program'],
  ['aws emr put --cluster-id j-1 --key-pair-file k.pem --src ./x', 'approve', 'external-program'],
  ['aws opsworks register --infrastructure-class ec2 --stack-id s --local', 'approve', 'external-program'],
  [
    'aws opsworks register --infrastructure-class on-premises --stack-id s --override-ssh "sh -c id" host',
    'approve',
    'external-program',
  ],
  ['aws lightsail push-container-image --service-name s --image i --label l', 'approve', 'external-program'],
  ['aws ssm start-session --target i-1', 'approve', 'token'],
  ['aws ecs execute-command --cluster c --task t --interactive --command sh', 'approve', 'token'],
  // their neighbours start nothing
  ['aws emr list-clusters', 'allow', null],
  ['aws opsworks describe-stacks', 'allow', null],
  ['aws ssm describe-sessions --state Active', 'allow', null],
])

table('parsing tricks', [
  // global options anywhere
  ['aws --profile prod secretsmanager get-secret-value --secret-id x', 'approve', 'decrypted-secret'],
  ['aws secretsmanager --region us-east-1 get-secret-value --secret-id x', 'approve', 'decrypted-secret'],
  [
    'aws secretsmanager get-secret-value --secret-id x --output json --query SecretString',
    'approve',
    'decrypted-secret',
  ],
  // both flag forms and prefixes of operation options
  ['aws ssm get-parameter --name=db --with-decryption', 'approve', 'decrypted-secret'],
  ['aws ssm get-parameter --name db --with', 'approve', 'decrypted-secret'],
  ['aws ssm get-parameter --name db --with-decr', 'approve', 'decrypted-secret'],
  ['aws ssm get-parameter --with-decryption --name db', 'approve', 'decrypted-secret'],
  ['aws ssm get-parameter --na db --wi', 'approve', 'decrypted-secret'],
  ['aws ssm get-parameters-by-path --path /app --recursive --with', 'approve', 'decrypted-secret'],
  // an option before the operation word is still the operation's
  ['aws ssm --with-decryption get-parameter --name db', 'approve', 'decrypted-secret'],
  // negation: last wins
  ['aws ssm get-parameter --name db --no-with-decryption --with-decryption', 'approve', 'decrypted-secret'],
  ['aws ssm get-parameter --name db --no-with --with', 'approve', 'decrypted-secret'],
  ['aws ssm get-parameter --name db --with --no-with', 'allow', null],
  ['aws glue get-connection --name c --hide-password --no-hide-password', 'approve', 'decrypted-secret'],
  ['aws glue get-connection --name c --no-hide-password --hide-password', 'allow', null],
  ['aws apigateway get-api-keys --include-values --no-include-values', 'allow', null],
  // --cli-input-json / --cli-input-yaml
  [`aws ssm get-parameter --cli-input-json '{"Name":"db","WithDecryption":true}'`, 'approve', 'decrypted-secret'],
  [`aws ssm get-parameter --cli-input-json '{"Name":"db","WithDecryption":true}' --no-with-decryption`, 'allow', null],
  [
    `aws ssm get-parameter --cli-input-json '{"Name":"db","WithDecryption":false}' --with-decryption`,
    'approve',
    'decrypted-secret',
  ],
  [`aws ssm get-parameter --cli-input-json '{"Name":"db"}'`, 'allow', null],
  [`aws ssm get-parameter --cli-input-j '{"Name":"db","WithDecryption":true}'`, 'approve', 'decrypted-secret'],
  [`aws ssm get-parameter --cli-input-json='{"Name":"db","WithDecryption":true}'`, 'approve', 'decrypted-secret'],
  ['aws ssm get-parameter --cli-input-yaml "WithDecryption: true\nName: db"', 'approve', 'decrypted-secret'],
  ['aws ssm get-parameter --cli-input-json file://$INPUTS/decrypt.json', 'approve', 'decrypted-secret'],
  ['aws ssm get-parameter --cli-input-json file://$INPUTS/plain.json', 'allow', null],
  ['aws ssm get-parameter --cli-input-yaml file://$INPUTS/decrypt.yaml', 'approve', 'decrypted-secret'],
  ['aws ssm get-parameter --cli-input-json file://~/ssm.json', 'approve', 'decrypted-secret'],
  [String.raw`aws ssm get-parameter --cli-input-json file://\${INPUTS}/decrypt.json`, 'approve', 'decrypted-secret'],
  [
    `aws kms decrypt --cli-input-json '{"CiphertextBlob":"eA==","Recipient":{"KeyEncryptionAlgorithm":"RSAES_OAEP_SHA_256"}}'`,
    'allow',
    null,
  ],
  [`aws apigateway get-api-keys --cli-input-json '{"includeValues":true}'`, 'approve', 'credential'],
  // fail closed
  ['aws ssm get-parameter --cli-input-json file:///nonexistent/in.json', 'approve', 'unknown'],
  ['aws ssm get-parameter --cli-input-json file://~nobody/in.json', 'approve', 'unknown'],
  ['aws ssm get-parameter --cli-input-json not-json', 'approve', 'unknown'],
  [`aws ssm get-parameter --cli-input-json '[1]'`, 'approve', 'unknown'],
  [`aws ssm get-parameter --cli-input '{"Name":"db"}'`, 'approve', 'unknown'],
  ['aws SSM get-parameter --name db', 'approve', 'unknown'],
  ['aws runtime.sagemaker invoke-endpoint --endpoint-name e --body b out', 'approve', 'unknown'],
  ['aws ssm get-parameterz --name db', 'approve', 'unknown'],
  ['aws s3 presignn s3://b/k', 'approve', 'unknown'],
  ['aws ssm get-parameter --name', 'approve', 'unknown'],
  ['aws --profile', 'approve', 'unknown'],
  ['aws s3 ls --no', 'approve'],
  ['aws ssm get-parameter --name x --w', 'approve', 'decrypted-secret'],
  ['aws ssm get-parameter --name x --with-decryption=true', 'approve'],
  ['aws ssm get-parameter --name x --d', 'approve', 'debug'],
  ['aws ssm get-parameter --name x --ver', 'allow', null],
  ['aws ssm get-parameter --name x --with-decryption --generate-cli-skeleton', 'allow', null],
  ['aws ssm get-parameter --name x --with-decryption --generate-cli-skeleton output', 'allow', null],
  ['aws ssm get-parameter --name x --with-decryption help', 'allow', null],
  ['aws ssm -- get-parameter --name x --with-decryption', 'approve', 'decrypted-secret'],
  ['aws -- ssm get-parameter --name x --with-decryption', 'approve', 'decrypted-secret'],
  ['aws ssm get-parameters-by-path --path /a --rec --with', 'approve', 'decrypted-secret'],
  ['aws --regio eu-west-1 ssm get-parameter --name=x --with-decryption', 'approve', 'decrypted-secret'],
  ['aws glue get-connection --name c --no-h', 'approve', 'decrypted-secret'],
  ['aws glue get-connection --name c --hide', 'allow', null],
  ['aws apigateway get-api-keys --no-include-values --include-values', 'approve', 'credential'],
  ['aws apigateway get-api-key --api-key k --include', 'approve', 'credential'],
  ['aws s3 presign --expires-in 60 s3://b/k', 'approve', 'signed-url'],
  ['aws s3 presign s3://b/k --exp 604800', 'approve', 'signed-url'],
  ['aws sts get-session-token --duration 900', 'approve', 'credential'],
  ['aws secretsmanager get-secret-value --secret x', 'approve', 'decrypted-secret'],
  ['aws iam create-access-key --user u', 'approve', 'credential'],
  ['aws codecommit credential-helper get --ignore-host-check', 'approve', 'credential'],
  ['aws configure --profile p export-credentials', 'approve', 'credential'],
  ['aws configure add-model --service-model file://m.json --service-name harmless', 'approve', 'credential'],
  ['aws lambda get-function --function-name f --query Code.Location', 'approve'],
  ['aws ec2 get-password-data --instance-id i --priv k.pem', 'approve', 'password'],
  ['aws s3 sync s3://b . --delete', 'allow', null],
  ['aws sagemaker-runtime invoke-endpoint --endpoint-name e --body b out', 'allow', null],
  ['aws ssm Get-Parameter --name x', 'approve', 'unknown'],
  ['aws ssm constructor', 'approve', 'unknown'],
  ['aws ssm __proto__', 'approve', 'unknown'],
  ['aws toString', 'approve', 'unknown'],
  ['aws constructor', 'approve', 'unknown'],
  ['aws hasOwnProperty', 'approve', 'unknown'],
  ['aws s3 constructor', 'approve', 'unknown'],
  [
    `aws ssm get-parameter --cli-input-json '{"__proto__":{"x":1},"Name":"db","WithDecryption":true}'`,
    'approve',
    'decrypted-secret',
  ],
  // the profile option takes a value, so the word after it is not the service
  ['aws --profile secretsmanager ssm get-parameter --name db', 'allow', null],
])

table('unlisted look-alikes are held; writers, listers and policies are not', [
  ['aws amplifybackend get-token --app-id a --session-id s', 'approve', 'unlisted'],
  ['aws amplifybackend create-token --app-id a', 'approve', 'unlisted'],
  ['aws license-manager create-token --license-arn arn:x --client-token t', 'approve', 'unlisted'],
  // Not unlisted; held only as elevated (session credentials cannot call IAM or these STS APIs).
  ['aws iam get-account-password-policy', 'approve', 'elevated'],
  ['aws iam update-account-password-policy --minimum-password-length 14', 'approve', 'elevated'],
  ['aws iam list-service-specific-credentials', 'approve', 'elevated'],
  ['aws iam change-password --old-password a --new-password b', 'approve', 'elevated'],
  ['aws cognito-idp revoke-token --token t --client-id c', 'allow', null],
  ['aws waf get-change-token', 'allow', null],
  ['aws sts get-access-key-info --access-key-id AKIAAVCANARY0000XXXX', 'approve', 'elevated'],
  ['aws secretsmanager create-secret --name n --secret-string s', 'allow', null],
])

describe('profile binding', () => {
  const cases: Array<[string, Record<string, string>, string]> = [
    ['aws s3 ls', {}, 'default'],
    ['aws s3 ls --profile prod', {}, 'prod'],
    ['aws --profile=prod s3 ls', {}, 'prod'],
    ['aws s3 ls --prof prod', {}, 'prod'],
    ['aws --profile a s3 ls --profile b', {}, 'b'],
    ['aws s3 ls', {AWS_PROFILE: 'envp'}, 'envp'],
    ['aws s3 ls', {AWS_DEFAULT_PROFILE: 'dflt'}, 'dflt'],
    ['aws s3 ls', {AWS_DEFAULT_PROFILE: 'dflt', AWS_PROFILE: 'envp'}, 'envp'],
    ['aws s3 ls --profile flag', {AWS_PROFILE: 'envp'}, 'flag'],
    ['aws s3api list-objects --bucket b --p x', {}, 'x'],
  ]
  for (const [line, extra, profile] of cases) {
    it(`${line} ${JSON.stringify(extra)} → ${profile}`, () => {
      assert.equal(run(line, DEFAULT_POLICY, extra).decision.profile, profile)
    })
  }
})

describe('policy and user decisions', () => {
  it('root policy loosens a category', () => {
    const d = run('aws s3 presign s3://b/k', {...DEFAULT_POLICY, decisions: {'signed-url': 'allow'}}).decision
    assert.equal(d.decision, 'allow')
    assert.equal(d.category, 'signed-url')
  })

  it('root policy denies a command outright, even without a sensitive flag', () => {
    const d = run('aws ssm get-parameter --name db', {...DEFAULT_POLICY, decisions: {'ssm get-parameter': 'deny'}})
    assert.equal(d.decision.decision, 'deny')
  })

  it('root policy tightens --debug to deny', () => {
    assert.equal(run('aws s3 ls --debug', {...DEFAULT_POLICY, decisions: {debug: 'deny'}}).decision.decision, 'deny')
  })

  it('the strictest finding wins', () => {
    const policy = {...DEFAULT_POLICY, decisions: {debug: 'deny' as const}}
    const d = run('aws secretsmanager get-secret-value --secret-id x --debug', policy).decision
    assert.equal(d.decision, 'deny')
    assert.equal(d.category, 'debug')
  })

  it('the user config may tighten', () => {
    const r = classifyArgv(words('aws sts get-caller-identity'), {
      env,
      home,
      policy: DEFAULT_POLICY,
      userDecisions: {'sts get-caller-identity': 'approve'},
    })
    assert.equal(r.decision.decision, 'approve')
    assert.deepEqual(r.warnings, [])
  })

  it('the user config may not loosen: ignored with a warning', () => {
    const r = classifyArgv(words('aws s3 presign s3://b/k'), {
      env,
      home,
      policy: DEFAULT_POLICY,
      userDecisions: {'signed-url': 'allow'},
    })
    assert.equal(r.decision.decision, 'approve')
    assert.match(r.warnings.join('\n'), /signed-url.*only make decisions stricter/)
  })

  it('the user config makes low confidence rules approve', () => {
    const r = classifyArgv(words('aws kms generate-random --number-of-bytes 8'), {
      env,
      home,
      policy: DEFAULT_POLICY,
      userDecisions: {'confidence:low': 'approve'},
    })
    assert.equal(r.decision.decision, 'approve')
  })
})

describe('the decision carries what the launcher and the human need', () => {
  it('has rule, reason, service, operation and profile', () => {
    const d = run('aws --profile p ssm get-parameter --name db --with').decision
    assert.deepEqual(
      {...d, reason: undefined},
      {
        category: 'decrypted-secret',
        decision: 'approve',
        operation: 'get-parameter',
        profile: 'p',
        reason: undefined,
        rule: 'ssm get-parameter',
        service: 'ssm',
      },
    )
    assert.match(d.reason, /with-decryption/)
  })

  it('lists files the CLI will read', () => {
    const {parsed} = run('aws ssm put-parameter --name n --value file://~/secret.txt --type String')
    assert.deepEqual(parsed.files, [path.join(home, 'secret.txt')])
  })
})

table('elevated: what session credentials cannot perform needs approval (then the long-term key)', [
  ['aws iam list-users', 'approve', 'elevated'],
  ['aws iam list-users --profile prod', 'approve', 'elevated'],
  ['aws iam list-access-keys', 'approve', 'elevated'],
  ['aws iam get-role --role-name r', 'approve', 'elevated'],
  ['aws sts decode-authorization-message --encoded-message x', 'approve', 'elevated'],
  ['aws sts get-caller-identity', 'allow', null],
  ['aws iam create-access-key --user-name u', 'approve', 'credential'],
  ['aws sts get-session-token', 'approve', 'credential'],
])

describe('isElevated', () => {
  const cases: Array<[string[], boolean]> = [
    [['iam', 'list-users'], true],
    [['iam', 'create-access-key'], true],
    [['sts', 'get-session-token'], true],
    [['sts', 'get-federation-token'], true],
    [['sts', 'assume-role'], false],
    [['sts', 'get-caller-identity'], false],
    [['s3', 'ls'], false],
    [['iamx', 'list-users'], false],
  ]
  for (const [words, expected] of cases) {
    it(`${words.join(' ')} → ${expected}`, () => {
      assert.equal(isElevated(words), expected)
    })
  }
})

describe('isElevatedRun: the long-term key, unless an MFA session can do it', () => {
  type Run = [line: string, mfaSession: boolean, elevated: boolean]
  const cases: Run[] = [
    // IAM: the key without MFA, the MFA session with it (whatever category won the gate).
    ['aws iam list-users', false, true],
    ['aws iam list-users', true, false],
    ['aws iam create-access-key --user-name u', false, true],
    ['aws iam create-access-key --user-name u', true, false],
    ['aws iam get-account-password-policy --profile prod', true, false],
    // STS: an MFA session still cannot call these.
    ['aws sts get-session-token', false, true],
    ['aws sts get-session-token', true, true],
    ['aws sts decode-authorization-message --encoded-message x', true, true],
    ['aws sts get-federation-token --name n', true, true],
    // Session credentials can: never elevated.
    ['aws sts assume-role --role-arn arn:aws:iam::1:role/r --role-session-name s', false, false],
    ['aws sts get-caller-identity', true, false],
    ['aws s3 ls', false, false],
    ['aws secretsmanager get-secret-value --secret-id x', false, false],
  ]
  for (const [line, mfaSession, elevated] of cases) {
    it(`${line} ${mfaSession ? 'on an MFA session' : 'without MFA'} → ${elevated ? 'elevated' : 'session'}`, () => {
      const {decision} = run(line)
      assert.notEqual(decision.decision, 'deny')
      assert.equal(isElevatedRun(decision, {mfaSession}), elevated)
    })
  }

  it('an elevated decision that no rule explains stays elevated, MFA or not', () => {
    for (const mfaSession of [false, true]) {
      assert.equal(isElevatedRun({category: 'elevated', operation: null, service: 'iam'}, {mfaSession}), true)
    }

    assert.equal(isElevatedRun({category: 'credential', operation: null, service: null}, {mfaSession: false}), false)
  })
})
