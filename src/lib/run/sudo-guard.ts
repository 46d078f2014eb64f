/** Cross-command guards used by the oclif hooks and by the fast paths that bypass oclif (`run`). */
import {AvError} from '../core/errors.js'

/** Commands that act on the machine and are meant to run as root. */
const ROOT_COMMANDS = new Set(['install', 'uninstall'])

/** An AvError when `commandId` is a user command being run through sudo, else null. */
export function sudoRefusal(commandId: string, env: NodeJS.ProcessEnv, uid: number): AvError | null {
  if (ROOT_COMMANDS.has(commandId) || commandId === 'help' || commandId.startsWith('gate')) return null
  if (uid !== 0 || !env.SUDO_USER || env.SUDO_USER === 'root') return null
  return new AvError(
    'sudo',
    `\`av ${commandId.replaceAll(':', ' ')}\` was run through sudo: it would use root's keychain and files, not ${env.SUDO_USER}'s`,
    {
      suggestion: `Run it as ${env.SUDO_USER}, without sudo (only \`sudo av install\` and \`sudo av uninstall\` need root).`,
    },
  )
}

/** Well-known AWS CLI service words, enough to recognise `av s3 ls` as a mistyped `av run -- aws s3 ls`. */
const AWS_WORDS = new Set([
  'aws',
  'cloudformation',
  'cloudwatch',
  'configure',
  'dynamodb',
  'ec2',
  'ecr',
  'ecs',
  'eks',
  'iam',
  'kms',
  'lambda',
  'logs',
  'rds',
  'route53',
  's3',
  's3api',
  'secretsmanager',
  'sns',
  'sqs',
  'ssm',
  'sts',
])

export function suggestRun(id: string, argv: string[]): null | string {
  const words = [...id.split(':'), ...argv]
  if (!AWS_WORDS.has(words[0] ?? '')) return null
  const rest = words[0] === 'aws' ? words.slice(1) : words
  return `Did you mean \`av run -- aws ${rest.join(' ')}\`?`
}
