/**
 * The main job, end to end, the default way (custody), in a sandbox: a throwaway unprivileged user with canary AWS
 * keys in ~/.aws, its own D-Bus session, gnome-keyring and password; av installed as `sudo av install` does (root
 * custody store, root launcher, sudoers drop-in, 0711 interpreter copy) into a root-only temp prefix, with a root
 * policy whose only approver is `tty` (never counted in custody: the password is the one way); and a local endpoint
 * that verifies every request's SigV4 signature. Then: av migrate, the real AWS CLI v2 through the `aws` launcher,
 * a live CLI the user cannot look into, a held command refused on `y` and approved once with the password, what an
 * agent gets when it asks for keys, both audit trails, and av restore back to byte-identical files.
 *
 * Run as root: `npm run demo`. Touches nothing of yours (no ~/.aws, keychain, /opt/av, /etc/av); removes its user,
 * install and sudoers drop-in at the end, also on failure. Exit 0 only if every check holds.
 */
import {spawnSync} from 'node:child_process'
import {createHash, randomBytes} from 'node:crypto'
import {existsSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import path from 'node:path'
import {stripVTControlCharacters} from 'node:util'

import {CANARY_MARK, canaryKey, filesWithSecret} from '../test/e2e/support/canary.js'
import {
  AWS_CLI,
  custodyArgs,
  e2eTempDir,
  installAv,
  type Installed,
  removeInstall,
} from '../test/e2e/support/install.js'
import {cmdlineOf, descendants, ppidOf} from '../test/e2e/support/procfs.js'
import {answerOnPty} from '../test/e2e/support/pty.js'
import {startEndpoint} from '../test/e2e/support/sigv4-endpoint.js'
import {type KeyringSandbox, type RunResult, startKeyringSandbox} from '../test/e2e/support/user-sandbox.js'

const checks: Array<{ok: boolean; what: string}> = []
function check(ok: boolean, what: string): void {
  checks.push({ok, what})
  console.log(`   ${ok ? 'ok  ' : 'FAIL'} ${what}`)
}

const heading = (text: string) => console.log(`\n== ${text}`)
const quote = (text: string) =>
  text.trimEnd() &&
  console.log(stripVTControlCharacters(text).replaceAll('\r', '').trimEnd().replaceAll(/^/gm, '   │ '))
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex')
const uidOf = (pid: number) => Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1])

const KEYS = {default: canaryKey('DEMO'), dev: canaryKey('DEV1')}
const PASSWORD = `demo-${randomBytes(6).toString('hex')}`
const HELD = ['secretsmanager', 'get-secret-value', '--secret-id', 'prod/db']

// eslint-disable-next-line complexity -- a script of steps, read top to bottom
async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run the demo as root: it creates a test user and a root-owned install')
  const endpoint = await startEndpoint({credentials: Object.values(KEYS)})
  const base = e2eTempDir('demo-custody-')
  const custodyDir = path.join(base, 'custody')
  const sudoersFile = `/etc/sudoers.d/av-custody-demo-${randomBytes(4).toString('hex')}`
  let install: Installed | undefined
  let sandbox: KeyringSandbox | undefined
  const outputs: string[] = []
  const shown = (r: RunResult, title?: string) => {
    outputs.push(r.stdout, r.stderr)
    if (title) console.log(`   $ ${title}`)
    quote((r.stdout + r.stderr).replaceAll(PASSWORD, '<password>'))
    console.log(`   └ exit ${r.code}`)
    return r
  }

  try {
    install = installAv(
      {approvers: ['tty'], custody: {approvalTimeoutSeconds: 20}, sts: {endpoint: endpoint.url}},
      undefined,
      custodyArgs(base, sudoersFile),
    )
    sandbox = await startKeyringSandbox()
    const sb = sandbox
    const {env} = install
    const {user} = sb
    const chpasswd = spawnSync('/usr/sbin/chpasswd', {encoding: 'utf8', input: `${user.name}:${PASSWORD}\n`})
    if (chpasswd.status !== 0) throw new Error(`chpasswd: ${chpasswd.stderr}`)
    const avArgv = ['/usr/bin/node', install.av]
    const av = async (args: string[]) => sb.run([...avArgv, ...args], {env})
    const aws = (args: string[]) => [install!.aws, ...args, '--endpoint-url', endpoint.url]
    const onPty = async (answer: string, argv: string[]) =>
      answerOnPty(sb, `stty cols 110; ${argv.join(' ')}`, answer, {env, timeoutMs: 60_000})
    const userDir = path.join(custodyDir, String(user.uid))
    const custodyItems = () =>
      existsSync(userDir)
        ? readdirSync(userDir)
            .filter((n) => n.endsWith('.item'))
            .map((n) => Buffer.from(n.slice(0, -5), 'base64url').toString('utf8'))
            .sort()
        : []
    const rootAudit = () =>
      readFileSync(path.join(userDir, 'audit.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>)
    const since = (mark: number) => endpoint.requests.slice(mark)
    const sessionOnly = (mark: number) =>
      since(mark).every((r) => r.verified && (r.operation === 'GetSessionToken' || r.accessKeyId?.startsWith('ASIA')))
    const showRequests = (mark: number) => {
      for (const r of since(mark))
        console.log(`   endpoint: ${r.operation} signed by ${r.accessKeyId} verified=${r.verified}`)
    }

    console.log(`sandbox user ${user.name} (uid ${user.uid}), HOME ${sb.home}, a throwaway login password`)
    console.log(`av installed the default way (custody) at ${install.prefix}; sudoers drop-in ${sudoersFile}`)
    console.log(`custody store ${custodyDir}; local AWS endpoint ${endpoint.url} (verifies every SigV4 signature)`)

    heading('1. before and after av migrate')
    const dotAws = path.join(sb.home, '.aws')
    const credentials = path.join(dotAws, 'credentials')
    const config = path.join(dotAws, 'config')
    const write = async (file: string, text: string) =>
      sb.sh(`umask 077; mkdir -p "${dotAws}"; cat > "${file}"`, {input: text})
    const pair = (name: string, k: (typeof KEYS)['dev']) =>
      `[${name}]\naws_access_key_id = ${k.accessKeyId}\naws_secret_access_key = ${k.secretAccessKey}\n`
    await write(credentials, `# canary keys, not real ones\n${pair('default', KEYS.default)}\n${pair('dev', KEYS.dev)}`)
    await write(config, '[default]\nregion = eu-west-1\noutput = json\n\n[profile dev]\nregion = us-east-1\n')
    const before = {config: sha256(config), credentials: sha256(credentials)}
    console.log('   ~/.aws/credentials before (secrets masked here):')
    quote(readFileSync(credentials, 'utf8').replaceAll(/(secret_access_key = ).*/g, '$1********'))
    shown(await av(['migrate', '--yes']), 'av migrate --yes')
    console.log('   ~/.aws/credentials and ~/.aws/config after:')
    quote(readFileSync(credentials, 'utf8') + readFileSync(config, 'utf8'))
    check(filesWithSecret(sb.base).length === 0, 'no canary secret in any file of the user (~/.aws, HOME, runtime dir)')
    check(custodyItems().join(',') === 'aws:default,aws:dev', 'both keys are in root custody (aws:default, aws:dev)')
    const search = await sb.run(['/usr/bin/secret-tool', 'search', '--all', 'service', 'av'])
    outputs.push(search.stdout, search.stderr)
    console.log('   $ secret-tool search --all service av   (the user’s keyring: labels shown, values not)')
    quote(search.stdout.replaceAll(/^(?!label = ).*\n?/gm, ''))
    check(!/label = keyring:aws:/.test(search.stdout), 'secret-tool finds no key item of av for the user')
    const peek = shown(await sb.sh(`ls ${custodyDir}; cat ${userDir}/*`), `ls ${custodyDir}; cat …/${user.uid}/*`)
    check(peek.code !== 0 && /Permission denied/.test(peek.stderr), 'the custody store is unreadable to the user')

    heading('2. the AWS CLI through the installed `aws` launcher')
    let mark = endpoint.requests.length
    const identity = shown(await sb.run(aws(['sts', 'get-caller-identity']), {env}), 'aws sts get-caller-identity')
    showRequests(mark)
    check(
      identity.code === 0 && since(mark).some((r) => r.operation === 'GetCallerIdentity' && r.hasSecurityToken),
      'GetCallerIdentity answered, signature verified',
    )
    check(sessionOnly(mark), 'the CLI signed with session credentials (ASIA…); only root used the durable key, for STS')
    mark = endpoint.requests.length
    const ls = shown(await sb.run(aws(['s3', 'ls', '--profile', 'dev']), {env}), 'aws s3 ls --profile dev')
    showRequests(mark)
    check(ls.code === 0 && since(mark).some((r) => r.operation === 'ListBuckets'), 'ListBuckets answered, verified')
    check(sessionOnly(mark), 'S3 signed with a session (ASIA…), never the durable key')

    heading('3. a live CLI, looked at by the user while the endpoint holds its request')
    mark = endpoint.requests.length
    endpoint.hold((r) => r.operation === 'GetCallerIdentity')
    const running = sb.run(aws(['sts', 'get-caller-identity']), {env})
    try {
      await endpoint.waitForRequest((r) => r.operation === 'GetCallerIdentity' && since(mark).includes(r))
      const cli = descendants(process.pid).find(
        (pid) => uidOf(pid) === user.uid && readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('aws-python3'),
      )
      const parent = cli ? ppidOf(cli) : null
      const launcher = parent
        ? cmdlineOf(parent)
            .slice(0, 2)
            .map((a) => path.basename(a))
            .join(' ')
        : ''
      console.log(
        `   the CLI: pid ${cli} (uid ${user.uid}); its parent: pid ${parent} (uid ${parent && uidOf(parent)}, ${launcher})`,
      )
      const tries = shown(
        await sb.sh(`for f in environ maps mem; do cat /proc/${cli}/$f >/dev/null && echo "read $f"; done`),
        `cat /proc/${cli}/{environ,maps,mem}   (as the user)`,
      )
      check(
        Boolean(cli) && !/^read /m.test(tries.stdout),
        'environ, maps and mem of the CLI cannot be read by the user',
      )
      check(parent !== null && uidOf(parent) === 0, 'the CLI’s parent is a root process (the launcher)')
    } finally {
      endpoint.release()
    }

    check((await running).code === 0, 'the held run then finishes normally')

    heading('4. a held command: `y` on the agent’s pty, then the password typed by a person')
    const held = aws([...HELD, '--region', 'eu-west-1'])
    mark = endpoint.requests.length
    const fromAudit = rootAudit().length
    const agent = shown(await onPty('y', held), `aws ${HELD.join(' ')}   (the agent types y)`)
    check(agent.code === 126 && since(mark).length === 0, 'refused (126); the endpoint saw nothing')
    shown(await onPty(PASSWORD, held), `aws ${HELD.join(' ')}   (a person types the password)`)
    console.log('   (the local endpoint does not implement Secrets Manager: it verified the signature, then said 400)')
    showRequests(mark)
    check(
      since(mark).length === 1 && since(mark)[0]!.operation === 'GetSecretValue' && sessionOnly(mark),
      'approved once: GetSecretValue reached the endpoint, signed with a session (verified)',
    )
    const again = shown(await onPty('y', held), `aws ${HELD.join(' ')}   (the same command again, y)`)
    check(again.code === 126 && since(mark).length === 1, 'the next identical run asks again (126, nothing sent)')

    heading('5. an agent asking for keys directly')
    const direct = shown(await av(['credential-helper', 'aws', '--profile', 'default']), 'av credential-helper aws')
    check(direct.code !== 0 && direct.stdout === '', 'the helper refuses a caller the launcher did not start')
    mark = endpoint.requests.length
    const exported = shown(
      await onPty('y', [install.aws, 'configure', 'export-credentials']),
      'aws configure export-credentials   (y)',
    )
    check(
      exported.code === 126 && !/SecretAccessKey/.test(exported.stdout),
      'export-credentials held (126), nothing printed',
    )
    const bare = shown(
      await sb.run([...AWS_CLI, 'sts', 'get-caller-identity', '--endpoint-url', endpoint.url]),
      'python3 -I /usr/bin/aws sts get-caller-identity   (the AWS CLI outside av)',
    )
    check(bare.code !== 0 && since(mark).length === 0, 'the AWS CLI started outside av gets nothing')

    heading('6. the audit trails')
    shown(await av(['log']), 'av log   (the user’s trail)')
    const verify = shown(await av(['log', '--verify']), 'av log --verify')
    check(verify.code === 0, 'the user’s audit chain verifies')
    console.log(`   root's custody audit (${path.join(userDir, 'audit.jsonl')}) since step 4, in short:`)
    const lines = rootAudit().slice(fromAudit)
    const fields = ['rule', 'decision', 'answer', 'credentials', 'cached', 'reason', 'exitCode'] as const
    quote(
      lines
        .map((e) => [e.time ?? e.at, e.event, ...fields.filter((f) => f in e).map((f) => `${f}=${String(e[f])}`)])
        .map((words) => words.join(' '))
        .join('\n'),
    )
    const answers = lines
      .filter((e) => e.event === 'gate' && e.rule === 'secretsmanager get-secret-value' && 'answer' in e)
      .map((e) => e.answer)
    check(answers.join(',') === 'denied,approved,denied', 'root recorded the gate answers: denied, approved, denied')
    check(
      lines.some((e) => e.event === 'release' && e.credentials === 'session'),
      'root recorded the release',
    )
    check(!readFileSync(path.join(userDir, 'audit.jsonl'), 'utf8').includes(CANARY_MARK), 'no secret in root’s audit')

    heading('7. av restore (the password typed on a pty)')
    shown(await onPty(PASSWORD, [...avArgv, 'restore']), 'av restore')
    check(sha256(credentials) === before.credentials, '~/.aws/credentials byte-identical to before (sha256)')
    check(sha256(config) === before.config, '~/.aws/config byte-identical to before (sha256)')
    check(!custodyItems().some((a) => a.startsWith('aws:')), 'no key left in root custody')
    check(
      !outputs.some((o) => o.includes(CANARY_MARK) || o.includes(PASSWORD)),
      'no canary secret (nor the password) in any output above',
    )
  } finally {
    heading('cleanup')
    await sandbox?.stop()
    removeInstall(install)
    check(!existsSync(sudoersFile) && !existsSync(custodyDir), 'av uninstall removed the drop-in and the custody store')
    if (sandbox) check(spawnSync('id', [sandbox.user.name]).status !== 0, `user ${sandbox.user.name} deleted`)
    rmSync(sudoersFile, {force: true})
    rmSync(base, {force: true, recursive: true})
    await endpoint.stop()
  }

  const failed = checks.filter((c) => !c.ok).length
  console.log(`\n${checks.length - failed} of ${checks.length} checks hold${failed ? ` — ${failed} FAILED` : ''}`)
  process.exitCode = failed === 0 ? 0 : 1
}

await main()
