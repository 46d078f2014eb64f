/**
 * One e2e world per test file: an unprivileged test user of its own in a keyring session, a root-owned install of av with a
 * root-owned policy, the SigV4 endpoint, and the user's canary keys migrated into the keychain. Tests then run the
 * installed av and `aws` launcher as that user — the victim, and the attacker, since they share a uid.
 */
import {chownSync, existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {assertNoSecret, type CanaryKey, canaryKey, filesWithSecret} from './canary.js'
import {installAv, type Installed, removeInstall} from './install.js'
import {type RecordedRequest, type SigV4Endpoint, startEndpoint} from './sigv4-endpoint.js'
import {type KeyringSandbox, type RunOptions, type RunResult, startKeyringSandbox} from './user-sandbox.js'

export interface AvWorld {
  sandbox: KeyringSandbox
  install: Installed
  endpoint: SigV4Endpoint
  key: CanaryKey
  /** `node <installed av> <args…>` as the user, with AV_POLICY set. */
  av(args: string[], options?: RunOptions): Promise<RunResult>
  /** The installed `aws` launcher shim as the user, with AV_POLICY set. */
  aws(args: string[], options?: RunOptions): Promise<RunResult>
  /** Write a file in the user's home, owned by the user. */
  writeUserFile(relative: string, text: string, mode?: number): string
  /** Access key ids the endpoint will accept as "the canary" (the durable key and any session key it issued). */
  canaryKeyIds(): Set<string>
  /** The requests since `mark` (an index into endpoint.requests). */
  since(mark: number): RecordedRequest[]
  /** Fail if a canary secret is in the texts or in any file under the sandbox or the install. */
  assertNoLeak(texts: Record<string, string>): void
  stop(): Promise<void>
}

export const REGION = 'eu-west-1'

export async function startAvWorld(options: {keySuffix: string; policy?: Record<string, unknown>}): Promise<AvWorld> {
  const key = canaryKey(options.keySuffix)
  const endpoint = await startEndpoint({credentials: [key]})
  let install: Installed | undefined
  let sandbox: KeyringSandbox | undefined
  try {
    install = installAv({iam: {endpoint: endpoint.url}, sts: {endpoint: endpoint.url}, ...options.policy})
    // A user of its own, whose home in the account database is the sandbox's HOME (where av keeps the audit trail).
    sandbox = await startKeyringSandbox()
    const world = makeWorld(sandbox, install, endpoint, key)
    await migrateCanary(world)
    return world
  } catch (error) {
    await sandbox?.stop()
    removeInstall(install)
    await endpoint.stop()
    throw error
  }
}

function makeWorld(sandbox: KeyringSandbox, install: Installed, endpoint: SigV4Endpoint, key: CanaryKey): AvWorld {
  const withPolicy = (options: RunOptions = {}): RunOptions => ({...options, env: {...install.env, ...options.env}})
  const world: AvWorld = {
    sandbox,
    install,
    endpoint,
    key,
    av: (args, options) => sandbox.run([process.execPath, install.av, ...args], withPolicy(options)),
    aws: (args, options) => sandbox.run([install.aws, ...args], withPolicy(options)),
    writeUserFile(relative, text, mode = 0o600) {
      const file = path.join(sandbox.home, relative)
      let dir = path.dirname(file)
      const dirs: string[] = []
      while (!existsSync(dir)) {
        dirs.unshift(dir)
        dir = path.dirname(dir)
      }

      for (const d of dirs) {
        mkdirSync(d, {mode: 0o700})
        chownSync(d, sandbox.user.uid, sandbox.user.gid)
      }

      writeFileSync(file, text, {mode})
      chownSync(file, sandbox.user.uid, sandbox.user.gid)
      return file
    },
    canaryKeyIds: () => new Set([key.accessKeyId, ...endpoint.issued.map((c) => c.accessKeyId)]),
    since: (mark) => endpoint.requests.slice(mark),
    assertNoLeak(texts) {
      assertNoSecret(texts, [key.secretAccessKey])
      const leaked = [
        ...filesWithSecret(sandbox.base, (p) => p.includes('/.local/share/keyrings')),
        ...filesWithSecret(install.dir, (p) => p.includes('/node_modules/')),
      ]
      if (leaked.length > 0) throw new Error(`a canary secret is in ${leaked.join(', ')}`)
    },
    async stop() {
      await sandbox.stop()
      removeInstall(install)
      await endpoint.stop()
    },
  }
  return world
}

/**
 * The user's plaintext canary keys, then `av migrate --yes` from the installed copy. Until migrate is on this
 * branch, the same end state is written directly: the key pair in the keychain through the installed
 * KeyringStore, the credential_process line in ~/.aws/config, no key left in ~/.aws/credentials.
 */
async function migrateCanary(world: AvWorld): Promise<void> {
  const {install, key} = world
  world.writeUserFile('.aws/config', `[default]\nregion = ${REGION}\noutput = json\n`)
  world.writeUserFile(
    '.aws/credentials',
    `[default]\naws_access_key_id = ${key.accessKeyId}\naws_secret_access_key = ${key.secretAccessKey}\n`,
  )
  const manifest = JSON.parse(readFileSync(path.join(install.tree, 'oclif.manifest.json'), 'utf8')) as {
    commands: Record<string, unknown>
  }
  if (manifest.commands.migrate) {
    const r = await world.av(['migrate', '--yes'])
    if (r.code !== 0) throw new Error(`av migrate failed (${r.code}): ${r.stderr}`)
    return
  }

  const lib = path.join(install.tree, 'dist', 'lib')
  const script = `
    import {KeyringStore} from ${JSON.stringify(path.join(lib, 'store', 'secret-store.js'))}
    import {encodeKeyPair, profileAccount} from ${JSON.stringify(path.join(lib, 'store', 'credentials.js'))}
    const store = new KeyringStore()
    await store.probe()
    const pair = JSON.parse(process.env.AV_E2E_PAIR)
    await store.set(profileAccount('default'), encodeKeyPair(pair))
    const back = await store.get(profileAccount('default'))
    if (back !== encodeKeyPair(pair)) throw new Error('read-back differs')
  `
  const r = await world.sandbox.run([process.execPath, '--input-type=module', '-e', script], {
    env: {AV_E2E_PAIR: JSON.stringify(key)},
  })
  if (r.code !== 0) throw new Error(`seeding the keychain failed: ${r.stderr}`)
  world.writeUserFile(
    '.aws/config',
    `[default]\nregion = ${REGION}\noutput = json\ncredential_process = ${install.av} credential-helper aws --profile default\n`,
  )
  world.writeUserFile('.aws/credentials', '[default]\n')
}
