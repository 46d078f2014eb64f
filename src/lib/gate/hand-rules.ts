import type {Rule} from './types.js'
/**
 * The hand-written rules: commands outside the catalog that still leak, and the global options that change
 * where traffic goes or what is printed. Global rules are keyed `global --<option>`; policy `decisions` may name
 * them, or their category (`debug`, `transport`).
 */
import type {Category} from './types.js'

const sshReason = (program: 'scp' | 'ssh') =>
  `starts ${program} inside the credentialed run: it reads your own ~/.ssh/config and runs its ProxyCommand and LocalCommand there`

const hand = (command: string, category: Category, reason: string, extra: Partial<Rule> = {}): Rule => ({
  category,
  command,
  condition: 'always',
  confidence: 'high',
  reason,
  source: 'hand',
  ...extra,
})

export const HAND_RULES: Rule[] = [
  hand('configure *', 'credential', 'reads or writes credentials and settings of the profile', {
    except: ['configure list-profiles'],
  }),
  // IAM Identity Center and console sign-in: both write a refresh token (and the CLI's client secret or DPoP key) that
  // mints role credentials for hours, for every account and role the user can reach.
  hand(
    'sso login',
    'token',
    'signs in to IAM Identity Center and writes the access token and refresh token to a cache the run can read',
  ),
  hand(
    'login',
    'token',
    'signs in with console credentials (AWS CLI 2.32+) and writes a refresh token and its signing key to a cache the run can read',
  ),
  hand('history show', 'credential', 'prints recorded requests and responses, which may hold secrets'),
  hand('history list', 'credential', 'lists recorded commands, which may hold secrets in their arguments'),
  hand(
    'ssm start-session',
    'token',
    'starts session-manager-plugin inside the credentialed run and passes it the session token on its command line',
  ),
  hand(
    'ecs execute-command',
    'token',
    'starts session-manager-plugin inside the credentialed run and passes it the session token on its command line',
  ),
  // Customizations that start another program inside the credentialed run: it inherits the run's environment and
  // reads the user's own configuration, so nothing of the user's may run there unseen. ssh and scp read
  // ~/.ssh/config from the passwd home (not the run's private HOME) and run its ProxyCommand / LocalCommand.
  hand('emr ssh', 'external-program', sshReason('ssh')),
  hand('emr socks', 'external-program', sshReason('ssh')),
  hand('emr get', 'external-program', sshReason('scp')),
  hand('emr put', 'external-program', sshReason('scp')),
  hand(
    'opsworks register',
    'external-program',
    'starts ssh (or the shell command given with --override-ssh, or /bin/sh with --local) inside the credentialed run',
  ),
  hand(
    'lightsail push-container-image',
    'external-program',
    'starts lightsailctl (which runs docker) inside the credentialed run',
  ),
  // Commands STS session credentials cannot perform (av hands the AWS CLI session credentials by default, see
  // sessions.ts): approved, they run once with the long-term key. A session obtained with MFA can call IAM: for a
  // profile with mfa_serial the launcher runs IAM on that session instead (isElevatedRun in rules.ts). The gate
  // holds IAM either way: it classifies the argv, not the profile's settings.
  hand(
    'iam *',
    'elevated',
    'session credentials cannot call IAM unless the session was obtained with MFA: without mfa_serial this run needs the long-term key',
    {mfaSessionSuffices: true},
  ),
  hand(
    'sts *',
    'elevated',
    'session credentials can call no STS API but AssumeRole and GetCallerIdentity: this run needs the long-term key',
    {except: ['sts assume-role', 'sts get-caller-identity']},
  ),
]

export interface GlobalRule {
  /** The global option (without dashes) as the CLI names it. */
  option: string
  rule: string
  category: Category
  reason: string
  /** Allowed when an `--endpoint-url` allowed by the root policy is given. */
  endpointScoped: boolean
}

export const GLOBAL_RULES: GlobalRule[] = [
  {
    category: 'debug',
    endpointScoped: false,
    option: 'debug',
    reason: '--debug prints the access key id, the session token and full response bodies',
    rule: 'global --debug',
  },
  {
    category: 'transport',
    endpointScoped: true,
    option: 'endpoint-url',
    reason: '--endpoint-url sends the signed request to another host, which could replay it to AWS',
    rule: 'global --endpoint-url',
  },
  {
    category: 'transport',
    endpointScoped: true,
    option: 'no-verify-ssl',
    reason: '--no-verify-ssl lets anyone on the path read and replay the signed request',
    rule: 'global --no-verify-ssl',
  },
  {
    category: 'transport',
    endpointScoped: true,
    option: 'ca-bundle',
    reason: '--ca-bundle trusts another certificate authority, so the request can be intercepted',
    rule: 'global --ca-bundle',
  },
  {
    category: 'unknown',
    endpointScoped: false,
    option: 'cli-auto-prompt',
    reason: '--cli-auto-prompt builds the command interactively, so av cannot see what will run',
    rule: 'global --cli-auto-prompt',
  },
]

/**
 * Operation names that look secret-bearing. Any such operation without a catalog row is held (category
 * `unlisted`): a new or renamed API should be looked at by a person before it runs unattended. Operations
 * whose verb only writes, deletes or lists (`set-…-password`, `delete-…-token`, `list-…-credentials`) and
 * password policies are left alone: they return no secret.
 */
export const UNLISTED_PATTERNS: RegExp[] = [
  /^(get|create|generate|issue|request)-(.*-)?token$/,
  /-credentials?$/,
  /password/,
  /^decrypt/,
  /presign/,
  /^(get|export|retrieve|reveal)-.*(secret|private-key)/,
]

export const UNLISTED_EXCEPTIONS: RegExp[] = [
  /^(admin-reset|admin-set|change|confirm|delete|describe|forgot|import|list|put|reset|revoke|set|update|verify)-/,
  /-policy$/,
  /^get-change-token/,
]
