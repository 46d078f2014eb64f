/**
 * IAM Identity Center end to end, as the unprivileged test user, in keychain mode and in custody mode: `av login`
 * runs the OIDC device sign-in against the local endpoint (the test approves the code, as a person would in the
 * browser), the installed `aws` launcher runs the real AWS CLI v2 with role credentials from GetRoleCredentials
 * (its request SigV4-verified with them), and no SSO token is ever in a file, argv, environment or output of the
 * user's, nor under ~/.aws/sso/cache. An access token the portal no longer takes is refreshed without a person; a
 * sign-in that ended gives the clear "run `av login`" refusal; `av logout` ends the portal session. `av migrate`
 * moves a plaintext cache `aws sso login` left, and a console sign-in's (`aws login`) document, which the helper
 * (root, in custody mode) then renews through the real `@aws-sdk/credential-provider-login` against the endpoint's
 * token service, which checks its DPoP proof.
 */
import assert from 'node:assert/strict'
import {createHash, generateKeyPairSync} from 'node:crypto'
import {existsSync, readdirSync, readFileSync, rmSync, statSync} from 'node:fs'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'

import {assertNoSecret, canaryKey, filesWithSecret} from './support/canary.js'
import {startCustodyWorld} from './support/custody-world.js'
import {installAv, type Installed, removeInstall} from './support/install.js'
import {descendants} from './support/procfs.js'
import {type SigV4Endpoint, startEndpoint} from './support/sigv4-endpoint.js'
import {LOGIN_CLIENT, SSO_MARK, type SsoService} from './support/sso-endpoint.js'
import {type KeyringSandbox, type RunResult, startKeyringSandbox} from './support/user-sandbox.js'

const ACCOUNT = '111122223333'
const START_URL = 'https://corp.awsapps.test/start'
const SSO = {roles: [`${ACCOUNT}/Dev`]}
const LOGIN_SESSION = `arn:aws:sts::${ACCOUNT}:assumed-role/Admin/alice`
const CONFIG = `[profile dev]
sso_session = corp
sso_account_id = ${ACCOUNT}
sso_role_name = Dev
region = eu-west-1
output = json

[profile console]
login_session = ${LOGIN_SESSION}
region = eu-west-1
output = json

[sso-session corp]
sso_start_url = ${START_URL}
sso_region = eu-west-1
sso_registration_scopes = sso:account:access
`

interface SsoWorld {
  endpoint: SigV4Endpoint
  install: Installed
  sandbox: KeyringSandbox
  mode: 'custody' | 'keychain'
  /** Root custody's file for an account (custody mode only). */
  item?: (account: string) => string
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => {
    setTimeout(resolve, ms)
  })
}

function ssoOf(w: SsoWorld): SsoService {
  return w.endpoint.sso!
}

const av = (w: SsoWorld, args: string[]) =>
  w.sandbox.run(['/usr/bin/node', w.install.av, ...args], {env: w.install.env})

/** `aws sts get-caller-identity --profile dev` through the installed launcher, against the endpoint. */
const callerIdentity = (w: SsoWorld) =>
  w.sandbox.run([w.install.aws, 'sts', 'get-caller-identity', '--profile', 'dev', '--endpoint-url', w.endpoint.url], {
    env: w.install.env,
  })

/** `av login --profile dev`, approving the code in "the browser" once the device authorization started. */
async function login(w: SsoWorld): Promise<RunResult> {
  const running = av(w, ['login', '--profile', 'dev', '--no-browser'])
  for (let i = 0; i < 300 && ssoOf(w).pending.length === 0; i++) await sleep(50) // eslint-disable-line no-await-in-loop
  assert.equal(ssoOf(w).pending.length, 1, 'av login started one device authorization')
  ssoOf(w).approve()
  return running
}

/** No SSO token (nor any canary secret) in the outputs, in any file the user can reach, or in the AWS CLI's cache. */
function assertNoToken(w: SsoWorld, outputs: Record<string, string>): void {
  assertNoSecret(outputs)
  for (const text of Object.values(outputs)) assert.ok(!text.includes(SSO_MARK))
  const leaked = filesWithSecret(w.sandbox.base, (p) => p.includes('/.local/share/keyrings'))
  assert.deepEqual(leaked, [])
  assert.equal(existsSync(path.join(w.sandbox.home, '.aws', 'sso', 'cache')), false, 'nothing under ~/.aws/sso/cache')
}

function scenarios(world: () => SsoWorld): void {
  it('without a sign-in the run is refused with "run `av login`", and nothing reaches the portal', async () => {
    const w = world()
    const r = await callerIdentity(w)
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /sso-login-needed/)
    assert.match(r.stderr, /av login --sso-session corp/)
    assert.equal(ssoOf(w).count('GetRoleCredentials'), 0)
    assertNoToken(w, {stderr: r.stderr, stdout: r.stdout})
  })

  it('av login shows the URL and code, and av keeps the tokens (never ~/.aws/sso/cache)', async () => {
    const w = world()
    const r = await login(w)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /approve this sign-in in your browser: https:\/\/device\.sso\.test\/\?user_code=AVCD-/)
    assert.match(
      r.stdout,
      new RegExp(
        `Signed in to ${START_URL}: av holds the tokens in ${w.mode === 'custody' ? 'root custody' : 'the OS keychain'}`,
      ),
    )
    assert.deepEqual(
      ssoOf(w)
        .requests.filter((q) => q.accepted)
        .map((q) => q.operation),
      ['RegisterClient', 'StartDeviceAuthorization', 'CreateToken(device)'],
    )
    assertNoToken(w, {stderr: r.stderr, stdout: r.stdout})
    const keychain = await w.sandbox.run(['/usr/bin/secret-tool', 'lookup', 'service', 'av', 'username', 'sso:corp'])
    if (w.mode === 'custody') {
      // Root holds the sign-in in a file only root can read; the user's keychain has nothing of it.
      assert.equal(keychain.stdout, '')
      const file = w.item!('sso:corp')
      const stat = statSync(file)
      assert.deepEqual([stat.uid, stat.mode & 0o777], [0, 0o600])
      assert.match(readFileSync(file, 'utf8'), new RegExp(SSO_MARK))
    } else {
      assert.match(keychain.stdout, /"refreshToken":"avCanarySecretSsoRefresh/)
    }
  })

  it('the launcher runs the AWS CLI with role credentials; while it runs no user process holds a token', async () => {
    const w = world()
    w.endpoint.hold((q) => q.operation === 'GetCallerIdentity')
    const running = callerIdentity(w)
    const call = await w.endpoint.waitForRequest((q) => q.operation === 'GetCallerIdentity')
    const inspected: number[] = []
    const leaks: number[] = []
    for (const pid of descendants(process.pid)) {
      try {
        const text = readFileSync(`/proc/${pid}/environ`, 'latin1') + readFileSync(`/proc/${pid}/cmdline`, 'latin1')
        inspected.push(pid)
        if (text.includes(SSO_MARK) || text.includes('avCanarySecret')) leaks.push(pid)
      } catch {
        // exited meanwhile
      }
    }

    w.endpoint.release()
    const r = await running
    assert.equal(r.code, 0, r.stderr)
    assert.ok(inspected.length >= 3, 'the launcher, the CLI and their helpers were inspected')
    assert.deepEqual(leaks, [])
    assert.equal(call.verified, true, call.failure ?? '')
    assert.match(call.accessKeyId ?? '', /^ASIAAVCANARYSSO0/)
    assert.equal(call.hasSecurityToken, true)
    assert.equal(JSON.parse(r.stdout).Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/AWSReservedSSO_Dev/av-sso-user`)
    assertNoToken(w, {stderr: r.stderr, stdout: r.stdout})
  })

  it('cached role credentials serve the next run without asking the portal', async () => {
    const w = world()
    const before = ssoOf(w).count('GetRoleCredentials')
    const r = await callerIdentity(w)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(ssoOf(w).count('GetRoleCredentials'), before)
  })

  it('`aws sso logout` inside an av run reaches nothing of av’s: the sign-in still serves the next run', async () => {
    const w = world()
    const logouts = ssoOf(w).count('Logout')
    const r = await w.sandbox.run([w.install.aws, 'sso', 'logout', '--profile', 'dev'], {env: w.install.env})
    assert.equal(r.code, 0, r.stderr)
    assert.equal(ssoOf(w).count('Logout'), logouts)
    assert.equal((await av(w, ['session', 'clear', '--profile', 'dev'])).code, 0)
    const again = await callerIdentity(w)
    assert.equal(again.code, 0, again.stderr)
    assertNoToken(w, {stderr: r.stderr + again.stderr, stdout: r.stdout + again.stdout})
  })

  it('an access token the portal no longer takes is refreshed with the refresh token, without a person', async () => {
    const w = world()
    ssoOf(w).expireAccessTokens()
    assert.equal((await av(w, ['session', 'clear', '--profile', 'dev'])).code, 0)
    const r = await callerIdentity(w)
    assert.equal(r.code, 0, r.stderr)
    const tail = ssoOf(w)
      .requests.slice(-3)
      .map((q) => `${q.operation}:${q.accepted}`)
    assert.deepEqual(tail, ['GetRoleCredentials:false', 'CreateToken(refresh):true', 'GetRoleCredentials:true'])
    assertNoToken(w, {stderr: r.stderr, stdout: r.stdout})
  })

  it('a sign-in that ended (refresh token refused) gives the clear "run `av login`" refusal', async () => {
    const w = world()
    ssoOf(w).expireAccessTokens()
    ssoOf(w).revokeRefreshTokens()
    assert.equal((await av(w, ['session', 'clear', '--profile', 'dev'])).code, 0)
    const r = await callerIdentity(w)
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /refused \(sso-login-needed\)/)
    assert.match(r.stderr, /av login/)
    assertNoToken(w, {stderr: r.stderr, stdout: r.stdout})
    // Signing in again makes the profile work again.
    assert.equal((await login(w)).code, 0)
    assert.equal((await callerIdentity(w)).code, 0)
  })

  it('av logout ends the portal session and drops the tokens and the role credentials', async () => {
    const w = world()
    const r = await av(w, ['logout', '--profile', 'dev'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /Signed out: removed 1 sign-in\(s\) \(corp\) and 1 cached role credential/)
    assert.equal(ssoOf(w).requests.at(-1)?.operation, 'Logout')
    assert.equal(ssoOf(w).requests.at(-1)?.accepted, true)
    if (w.item) assert.equal(existsSync(w.item('sso:corp')), false)
    const again = await callerIdentity(w)
    assert.notEqual(again.code, 0)
    assert.match(again.stderr, /sso-login-needed/)
    assertNoToken(w, {stderr: r.stderr + again.stderr, stdout: r.stdout + again.stdout})
  })

  it('av migrate absorbs a plaintext cache `aws sso login` left; av restore leaves the config byte-identical', async () => {
    const w = world()
    // What the AWS CLI's own sign-in leaves: a token the portal takes, in plaintext, named by sha1 of the session.
    const cacheDir = path.join(w.sandbox.home, '.aws', 'sso', 'cache')
    const file = path.join(cacheDir, `${createHash('sha1').update('corp').digest('hex')}.json`)
    const written = await w.sandbox.sh(`mkdir -p ${cacheDir} && cat > ${file}`, {input: await cliSignIn(w.endpoint)})
    assert.equal(written.code, 0, written.stderr)
    const doctor = await av(w, ['doctor', '--offline'])
    assert.match(doctor.stdout, /sso-cache.*plaintext[\s\S]*av migrate/)
    const r = await av(w, ['migrate', '--yes'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(
      r.stdout,
      /moved the IAM Identity Center tokens of corp \(dev\) into .* and deleted the plaintext cache/,
    )
    assert.equal(existsSync(file), false)
    rmSync(cacheDir, {force: true, recursive: true})
    assertNoToken(w, {stderr: r.stderr, stdout: r.stdout})
    // The absorbed sign-in serves the launcher: no `av login` in between.
    const before = ssoOf(w).count('StartDeviceAuthorization')
    const run = await callerIdentity(w)
    assert.equal(run.code, 0, run.stderr)
    assert.equal(ssoOf(w).count('StartDeviceAuthorization'), before)
    const back = await av(w, ['restore', '--yes'])
    assert.equal(back.code, 0, back.stderr)
    assert.match(back.stdout, /av still holds the IAM Identity Center or console sign-in\(s\) corp/)
    assert.equal(readFileSync(path.join(w.sandbox.home, '.aws', 'config'), 'utf8'), CONFIG)
    assertNoToken(w, {stderr: back.stderr + run.stderr, stdout: back.stdout + run.stdout})
  })

  it('a console sign-in (`aws login`) moves into av; root/the helper renews it through the SDK’s provider (DPoP)', async () => {
    const w = world()
    const cacheDir = path.join(w.sandbox.home, '.aws', 'login', 'cache')
    const file = path.join(cacheDir, `${createHash('sha256').update(LOGIN_SESSION).digest('hex')}.json`)
    const written = await w.sandbox.sh(`mkdir -p ${cacheDir} && cat > ${file}`, {input: consoleSignIn(w.endpoint)})
    assert.equal(written.code, 0, written.stderr)
    const r = await av(w, ['migrate', '--yes'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(
      r.stdout,
      /moved the console sign-in \(aws login\) of arn:\S+ \(console\) into .* deleted the plaintext cache/,
    )
    assert.equal(existsSync(file), false)
    rmSync(path.join(w.sandbox.home, '.aws', 'login'), {force: true, recursive: true})
    const console = (args: string[] = []) =>
      w.sandbox.run(
        [
          w.install.aws,
          'sts',
          'get-caller-identity',
          '--profile',
          'console',
          '--endpoint-url',
          w.endpoint.url,
          ...args,
        ],
        {
          env: w.install.env,
        },
      )
    const mark = w.endpoint.requests.length
    const first = await console()
    assert.equal(first.code, 0, first.stderr)
    // Held credentials had 2 minutes left: renewed once, with a DPoP proof from the held key; the CLI signs with the new ones.
    assert.deepEqual(
      w.endpoint.login.requests.map((q) => [q.accepted, q.dpop]),
      [[true, true]],
    )
    const call = w.endpoint.requests.slice(mark).find((q) => q.operation === 'GetCallerIdentity')!
    assert.equal(call.verified, true, call.failure ?? '')
    assert.equal(JSON.parse(first.stdout).Arn, LOGIN_SESSION)
    const second = await console()
    assert.equal(second.code, 0, second.stderr)
    assert.equal(w.endpoint.login.requests.length, 1, 'fresh credentials are not renewed again')
    const out = await av(w, ['logout', '--profile', 'console'])
    assert.equal(out.code, 0, out.stderr)
    const refused = await console()
    assert.notEqual(refused.code, 0)
    assert.match(refused.stderr, /sso-login-needed[\s\S]*aws login --profile console/)
    assertNoToken(w, {
      stderr: r.stderr + first.stderr + second.stderr + out.stderr + refused.stderr,
      stdout: r.stdout + first.stdout + second.stdout + out.stdout + refused.stdout,
    })
    assert.deepEqual(leftLoginDirs(w.sandbox.user.uid), [], 'no renewal directory is left behind')
  })
}

/** Renewal directories (`/tmp/av-login-*`) of the user's or root's left behind. */
function leftLoginDirs(uid: number): string[] {
  return readdirSync('/tmp')
    .filter((name) => name.startsWith('av-login-'))
    .filter((name) => [0, uid].includes(statSync(path.join('/tmp', name)).uid))
}

/** A console sign-in as `aws login` leaves it (a DPoP key, its refresh token, credentials due for renewal). */
function consoleSignIn(endpoint: SigV4Endpoint): string {
  const {privateKey, publicKey} = generateKeyPairSync('ec', {namedCurve: 'P-256'})
  const {credentials, refreshToken} = endpoint.login.issue(publicKey.export({format: 'jwk'}), LOGIN_SESSION)
  return JSON.stringify({
    accessToken: {
      accessKeyId: credentials.accessKeyId,
      accountId: ACCOUNT,
      expiresAt: new Date(Date.now() + 2 * 60_000).toISOString(),
      secretAccessKey: credentials.secretAccessKey,
      sessionToken: credentials.sessionToken,
    },
    clientId: LOGIN_CLIENT,
    dpopKey: privateKey.export({format: 'pem', type: 'sec1'}),
    refreshToken,
  })
}

/** A sign-in as the AWS CLI makes it (through the SDK, from the test), in the CLI's cache format. */
async function cliSignIn(endpoint: SigV4Endpoint): Promise<string> {
  const {sdkSso} = await import('../../src/lib/aws/sso-client.js')
  const at = {oidc: endpoint.url, portal: endpoint.url, region: 'eu-west-1'}
  const client = await sdkSso.registerClient(at, {clientName: 'botocore-client', scopes: ['sso:account:access']})
  const device = await sdkSso.startDeviceAuthorization(at, {client, startUrl: START_URL})
  endpoint.sso!.approve(device.userCode)
  const token = await sdkSso.createToken(at, {client, grant: {deviceCode: device.deviceCode, kind: 'device'}})
  return JSON.stringify({
    accessToken: token.accessToken,
    clientId: client.clientId,
    clientSecret: client.clientSecret,
    expiresAt: new Date(token.expiresAt).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    refreshToken: token.refreshToken,
    region: 'eu-west-1',
    registrationExpiresAt: new Date(client.expiresAt).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    startUrl: START_URL,
  })
}

async function writeConfig(sandbox: KeyringSandbox): Promise<void> {
  const r = await sandbox.sh(`mkdir -p ~/.aws && cat > ~/.aws/config`, {input: CONFIG})
  assert.equal(r.code, 0, r.stderr)
}

describe('IAM Identity Center in keychain mode', () => {
  let w: SsoWorld | undefined

  before(async () => {
    const endpoint = await startEndpoint({credentials: [], sso: SSO})
    const install = installAv({
      signin: {endpoint: endpoint.url},
      sso: {oidcEndpoint: endpoint.url, portalEndpoint: endpoint.url},
      sts: {endpoint: endpoint.url},
    })
    const sandbox = await startKeyringSandbox()
    w = {endpoint, install, mode: 'keychain', sandbox}
    await writeConfig(sandbox)
  })

  after(async () => {
    await w?.sandbox.stop()
    removeInstall(w?.install)
    await w?.endpoint.stop()
  })

  scenarios(() => w!)
})

describe('IAM Identity Center in custody mode (root signs in and releases)', () => {
  let w: SsoWorld | undefined
  let stop: (() => Promise<void>) | undefined

  before(async () => {
    const custody = await startCustodyWorld({key: canaryKey('55C0'), keyDelayMs: 0, prefix: 'sso-', sso: SSO})
    ;({stop} = custody)
    w = {...custody, item: custody.item, mode: 'custody'}
    await writeConfig(custody.sandbox)
  })

  after(async () => {
    await stop?.()
  })

  scenarios(() => w!)
})
