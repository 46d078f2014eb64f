/**
 * The main job, end to end, in a sandbox: an unprivileged user with canary AWS keys in ~/.aws, its own D-Bus
 * session and gnome-keyring, av installed root-owned into a temp prefix (as `sudo av install` would, with a
 * root-owned policy that allows the local endpoint), and a local endpoint that verifies every request's SigV4
 * signature. Then: av migrate, the real AWS CLI v2 through av, what an agent running as that user gets when it
 * tries for the keys, the audit trail, and av restore back to byte-identical files.
 *
 * Run as root (it creates a throwaway test user `avtest-<hex>` and a root-owned install under /tmp): `npm run demo`.
 * Touches nothing of yours: no real ~/.aws, keychain, /opt/av or /etc/av. Exit 0 only if every check holds.
 */
import {createHash} from 'node:crypto'
import {readFileSync} from 'node:fs'
import path from 'node:path'

import {CANARY_MARK, canaryKey, filesWithSecret} from '../test/e2e/support/canary.js'
import {installAv, removeInstall} from '../test/e2e/support/install.js'
import {startEndpoint} from '../test/e2e/support/sigv4-endpoint.js'
import {type RunResult, startKeyringSandbox} from '../test/e2e/support/user-sandbox.js'

const checks: Array<{ok: boolean; what: string}> = []
function check(ok: boolean, what: string): void {
  checks.push({ok, what})
  console.log(`   ${ok ? 'ok  ' : 'FAIL'} ${what}`)
}

function heading(text: string): void {
  console.log(`\n== ${text}`)
}

function show(result: RunResult): void {
  const text = (result.stdout + result.stderr).trimEnd()
  if (text) console.log(text.replaceAll(/^/gm, '   │ '))
  console.log(`   └ exit ${result.code}`)
}

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex')

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run the demo as root: it creates a test user and a root-owned install')
  const keys = {default: canaryKey('DEMO'), dev: canaryKey('DEV1')}
  const endpoint = await startEndpoint({credentials: Object.values(keys)})
  const install = installAv({sts: {endpoint: endpoint.url}})
  const sandbox = await startKeyringSandbox()
  const {user} = sandbox
  const {env} = install
  const av = (args: string[]) => sandbox.run([process.execPath, install.av, ...args], {env})
  const aws = (args: string[]) => sandbox.run([install.aws, ...args], {env})
  const outputs: string[] = []
  const keep = (r: RunResult) => {
    outputs.push(r.stdout, r.stderr)
    return r
  }

  try {
    console.log(`sandbox: user ${user.name} (uid ${user.uid}), HOME ${sandbox.home}`)
    console.log(`av installed root-owned at ${install.tree}; policy ${install.policyFile}`)
    console.log(`local AWS endpoint ${endpoint.url} (verifies SigV4 against the canary secrets)`)

    const aws_ = path.join(sandbox.home, '.aws')
    const credentials = path.join(aws_, 'credentials')
    const config = path.join(aws_, 'config')
    const writeUserFile = (file: string, text: string) =>
      sandbox.sh(`umask 077; mkdir -p "${aws_}"; cat > "${file}"`, {input: text})
    await writeUserFile(
      credentials,
      `# canary keys, not real ones\n[default]\naws_access_key_id = ${keys.default.accessKeyId}\naws_secret_access_key = ${keys.default.secretAccessKey}\n\n[dev]\naws_access_key_id = ${keys.dev.accessKeyId}\naws_secret_access_key = ${keys.dev.secretAccessKey}\n`,
    )
    await writeUserFile(config, '[default]\nregion = eu-west-1\noutput = json\n\n[profile dev]\nregion = us-east-1\n')
    const before = {config: sha256(config), credentials: sha256(credentials)}

    heading('before: ~/.aws/credentials holds plaintext keys (secrets masked here)')
    console.log(readFileSync(credentials, 'utf8').replaceAll(CANARY_MARK, '********').replaceAll(/^/gm, '   │ '))

    heading('av migrate --yes')
    show(keep(await av(['migrate', '--yes'])))
    heading('after: ~/.aws/credentials and ~/.aws/config')
    console.log(readFileSync(credentials, 'utf8').replaceAll(/^/gm, '   │ '))
    console.log(readFileSync(config, 'utf8').replaceAll(/^/gm, '   │ '))
    check(filesWithSecret(aws_).length === 0, 'no canary secret left in any file under ~/.aws')

    heading('the AWS CLI through av (the installed `aws` launcher): aws sts get-caller-identity')
    let mark = endpoint.requests.length
    const identity = keep(await aws(['sts', 'get-caller-identity', '--endpoint-url', endpoint.url]))
    show(identity)
    const seen = endpoint.requests.slice(mark)
    for (const r of seen)
      console.log(`   endpoint received ${r.operation} signed by ${r.accessKeyId}: verified=${r.verified}`)
    check(
      identity.code === 0 && seen.some((r) => r.operation === 'GetCallerIdentity' && r.verified),
      'signature verified',
    )

    heading('av run -- aws s3 ls --profile dev')
    mark = endpoint.requests.length
    const ls = keep(await av(['run', '--', 'aws', 's3', 'ls', '--profile', 'dev', '--endpoint-url', endpoint.url]))
    show(ls)
    check(ls.code === 0 && endpoint.requests.slice(mark).some((r) => r.verified), 'S3 request signed and verified')

    heading('an agent running as the same user tries for the keys')
    console.log('   $ av credential-helper aws --profile default      (call the helper itself)')
    const direct = keep(await av(['credential-helper', 'aws', '--profile', 'default']))
    show(direct)
    check(direct.code !== 0 && direct.stdout === '', 'helper refuses a caller av did not start')

    console.log('   $ /usr/bin/python3 -I /usr/bin/aws sts get-caller-identity   (the AWS CLI outside av)')
    mark = endpoint.requests.length
    const bare = keep(
      await sandbox.run([
        '/usr/bin/python3',
        '-I',
        '/usr/bin/aws',
        'sts',
        'get-caller-identity',
        '--endpoint-url',
        endpoint.url,
      ]),
    )
    show(bare)
    check(bare.code !== 0 && endpoint.requests.length === mark, 'the AWS CLI started outside av gets nothing')

    console.log('   $ aws configure export-credentials   (through av: the gate holds it for a human)')
    const exported = keep(await sandbox.run(['setsid', '-w', install.aws, 'configure', 'export-credentials'], {env}))
    show(exported)
    check(exported.code === 126, 'export-credentials held (no approver reachable without a terminal) → 126')

    heading('av log (the audit trail) and av log --verify')
    show(keep(await av(['log'])))
    const verify = keep(await av(['log', '--verify']))
    show(verify)
    check(verify.code === 0, 'audit chain intact')

    heading('av restore --yes')
    show(keep(await av(['restore', '--yes'])))
    check(sha256(credentials) === before.credentials, '~/.aws/credentials byte-identical to before (sha256)')
    check(sha256(config) === before.config, '~/.aws/config byte-identical to before (sha256)')

    const leaked = outputs.some((o) => o.includes(CANARY_MARK))
    check(!leaked, 'no canary secret in any output shown above')
  } finally {
    await sandbox.stop()
    removeInstall(install)
    await endpoint.stop()
  }

  const failed = checks.filter((c) => !c.ok).length
  console.log(`\n${checks.length - failed} of ${checks.length} checks hold${failed ? ` — ${failed} FAILED` : ''}`)
  process.exitCode = failed === 0 ? 0 : 1
}

await main()
