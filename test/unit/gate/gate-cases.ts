/**
 * The gate's argv → decision tables, shared by the classifier's own tests (gate-classify.test.ts) and the root
 * launcher's (root-launcher.test.ts, which must refuse every held row without an approval). Lines are shell words;
 * `$INPUTS` and `~` name the files gateInputs writes.
 */
import {mkdirSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {parse as shellParse} from 'shell-quote'

import type {Category, Decision} from '../../../src/lib/gate/types.js'

import {DEFAULT_POLICY, type Policy} from '../../../src/lib/core/policy.js'
import {awsCommandTree, type CommandNode} from '../../../src/lib/gate/aws-commands.js'
import {CATALOG_ROWS} from '../../../src/lib/gate/rules.generated.js'

export type GateCase = [line: string, decision: Decision, category?: Category | null]

export interface GateTable {
  name: string
  cases: GateCase[]
  /** The root policy the table is classified under (the built-in defaults when absent). */
  policy?: Policy
}

/** A test line as the argv a shell would pass (`$NAME` kept as written: the AWS CLI expands it in file:// paths). */
export const words = (line: string): string[] =>
  shellParse(line, (name: string) => `$${name}`).map((w) => {
    if (typeof w !== 'string') throw new Error(`bad test line ${line}`)
    return w
  })

/** Writes the files the tables' file:// cases read under `dir`; returns the HOME and environment they assume. */
export function gateInputs(dir: string): {env: Record<string, string>; home: string} {
  const home = path.join(dir, 'home')
  writeFileSync(path.join(dir, 'decrypt.json'), JSON.stringify({Name: 'db', WithDecryption: true}))
  writeFileSync(path.join(dir, 'plain.json'), JSON.stringify({Name: 'db'}))
  writeFileSync(path.join(dir, 'decrypt.yaml'), 'Name: db\nWithDecryption: true\n')
  writeFileSync(path.join(dir, 'attr.txt'), 'userData')
  // ~ in file:// is the HOME the CLI runs with.
  mkdirSync(home, {recursive: true})
  writeFileSync(path.join(home, 'in.json'), JSON.stringify({SecretId: 'x'}))
  writeFileSync(path.join(home, 'ssm.json'), JSON.stringify({Name: 'db', WithDecryption: true}))
  return {env: {HOME: home, INPUTS: dir}, home}
}

export const GATE_TABLES: GateTable[] = [
  {
    name: 'look-alikes that stay allowed',
    cases: [
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
    ],
  },
  {
    name: 'allow when the root policy names the endpoint',
    cases: [
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
    policy: {...DEFAULT_POLICY, endpoints: ['http://127.0.0.1:*']},
  },
  {
    name: 'the catalog: always, by category',
    cases: [
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
    ],
  },
  {
    name: 'the catalog: conditions',
    cases: [
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
    ],
  },
  {
    name: 'low confidence held when the policy says so',
    cases: [
      ['aws ec2 describe-instance-attribute --instance-id i-1 --attribute userData', 'approve', 'decrypted-secret'],
      [
        'aws ec2 describe-instance-attribute --instance-id i-1 --attribute file://$INPUTS/attr.txt',
        'approve',
        'decrypted-secret',
      ],
      ['aws ec2 describe-instance-attribute --instance-id i-1 --attribute instanceType', 'allow', null],
      ['aws kms generate-random --number-of-bytes 32', 'approve'],
    ],
    policy: {...DEFAULT_POLICY, decisions: {'confidence:low': 'approve'}},
  },
  {
    name: 'hand-written rules',
    cases: [
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
      // Sign-ins write refresh tokens; signing out and listing with a token one already has print none.
      ['aws sso login', 'approve', 'token'],
      ['aws sso login --sso-session corp --no-browser', 'approve', 'token'],
      ['aws login', 'approve', 'token'],
      ['aws login --profile dev', 'approve', 'token'],
      ['aws sso logout', 'allow', null],
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
    ],
  },
  {
    name: 'programs the CLI would start inside the credentialed run are held',
    cases: [
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
    ],
  },
  {
    name: 'parsing tricks',
    cases: [
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
      [
        `aws ssm get-parameter --cli-input-json '{"Name":"db","WithDecryption":true}' --no-with-decryption`,
        'allow',
        null,
      ],
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
      [
        String.raw`aws ssm get-parameter --cli-input-json file://\${INPUTS}/decrypt.json`,
        'approve',
        'decrypted-secret',
      ],
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
    ],
  },
  {
    name: 'unlisted look-alikes are held; writers, listers and policies are not',
    cases: [
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
    ],
  },
  {
    name: 'elevated: what session credentials cannot perform needs approval (then the long-term key)',
    cases: [
      ['aws iam list-users', 'approve', 'elevated'],
      ['aws iam list-users --profile prod', 'approve', 'elevated'],
      ['aws iam list-access-keys', 'approve', 'elevated'],
      ['aws iam get-role --role-name r', 'approve', 'elevated'],
      ['aws sts decode-authorization-message --encoded-message x', 'approve', 'elevated'],
      ['aws sts get-caller-identity', 'allow', null],
      ['aws iam create-access-key --user-name u', 'approve', 'credential'],
      ['aws sts get-session-token', 'approve', 'credential'],
    ],
  },
  {
    name: 'the root policy loosens a category',
    cases: [
      ['aws s3 presign s3://b/k', 'allow', 'signed-url'],
      ['aws s3 presign s3://b/k --expires-in 60', 'allow', 'signed-url'],
    ],
    policy: {...DEFAULT_POLICY, decisions: {'signed-url': 'allow'}},
  },
  {
    name: 'the root policy denies a command outright, tightens --debug to deny, and the strictest finding wins',
    cases: [
      ['aws ssm get-parameter --name db', 'deny'],
      ['aws ssm get-parameter --name db --with-decryption', 'deny'],
      ['aws s3 ls --debug', 'deny', 'debug'],
      ['aws secretsmanager get-secret-value --secret-id x --debug', 'deny', 'debug'],
      ['aws s3 ls', 'allow', null],
    ],
    policy: {...DEFAULT_POLICY, decisions: {debug: 'deny', 'ssm get-parameter': 'deny'}},
  },
]

/** One argv → decision case per catalog row (gate-catalog.test.ts): the condition met, and not met. */
export interface CatalogCase {
  argv: string[]
  decision: Decision
  /** The categories a held case may carry (its rows', credential, unknown); null: not checked. */
  categories: null | string[]
  why: string
}

/** Commands whose catalog row is low confidence but that a hand-written rule holds anyway. */
const HAND_APPROVED = new Set(['configure get', 'configure list', 'history show'])

/** How to write `--flag` so the option is given: bare for a boolean, with a value otherwise. */
function given(node: CommandNode | undefined, flag: string, value = 'x'): string[] {
  const boolean = (node?.o ?? '').split(' ').includes(`${flag}!`)
  return boolean ? [`--${flag}`] : [`--${flag}`, value]
}

export function catalogCases(): CatalogCase[] {
  const tree = awsCommandTree()
  const nodeOf = (command: string[]): CommandNode | undefined => {
    let node = tree.command(command[0]!)
    for (const w of command.slice(1)) node = node?.s?.[w]
    return node
  }

  const categoriesOf = new Map<string, string[]>()
  for (const [command, category] of CATALOG_ROWS)
    categoriesOf.set(command, [...(categoriesOf.get(command) ?? []), category])
  const cases: CatalogCase[] = []
  for (const [command, , condition, confidence] of CATALOG_ROWS) {
    const commandWords = command.split(' ')
    const node = nodeOf(commandWords)
    const known = node !== undefined
    const held = !known || confidence !== 'low' || HAND_APPROVED.has(command)
    const match = /^(if|unless):--([a-z0-9-]+)(?:=(.+))?$/.exec(condition)
    const met: string[] = ['aws', ...commandWords]
    const notMet: null | string[] = match ? ['aws', ...commandWords] : null
    if (match) {
      const [, kind, flag, value] = match
      if (kind === 'if') met.push(...given(node, flag!, value))
      else notMet!.push(...given(node, flag!))
      if (kind === 'if' && value) notMet!.push(`--${flag}`, 'something-else')
    }

    cases.push({
      argv: met,
      categories: held ? [...categoriesOf.get(command)!, 'credential', 'unknown'] : null,
      decision: held ? 'approve' : 'allow',
      why: `${condition}, ${confidence}`,
    })
    if (notMet) {
      cases.push({
        argv: notMet,
        categories: null,
        decision: known ? 'allow' : 'approve',
        why: `${condition} not met`,
      })
    }
  }

  return cases
}
