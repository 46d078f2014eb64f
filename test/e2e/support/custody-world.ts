/**
 * One suite's root custody: a SigV4 endpoint (STS and IAM) holding the canary key, av installed in custody mode with
 * its key store and run records under a temporary base and a sudoers drop-in of its own, and an unprivileged
 * keyring-sandbox user whose login password the suite knows (sudo asks it for rotate, checkout and approvals).
 * `stop()` undoes all of it, also after a start that failed half-way.
 */
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {rmSync} from 'node:fs'
import path from 'node:path'

import type {CanaryKey} from './canary.js'

import {
  custodyArgs,
  e2eTempDir,
  installAv,
  type Installed,
  newDropIn,
  removeInstall,
  REPO_ROOT,
  sweepStaleDropIns,
} from './install.js'
import {type SigV4Endpoint, startEndpoint} from './sigv4-endpoint.js'
import {type SsoOptions} from './sso-endpoint.js'
import {type KeyringSandbox, startKeyringSandbox} from './user-sandbox.js'

export interface CustodyWorld {
  endpoint: SigV4Endpoint
  install: Installed
  sandbox: KeyringSandbox
  /** The temporary base: root custody's key store is `<base>/custody/<uid>`. */
  base: string
  /** The sandbox user's login password. */
  password: string
  /** The file root custody keeps `account` in. */
  item(account: string): string
  stop(): Promise<void>
}

export async function startCustodyWorld(options: {
  key: CanaryKey
  /** How long the endpoint refuses a key IAM just created. */
  keyDelayMs: number
  /** The temporary base's name prefix. */
  prefix: string
  /** Serve IAM Identity Center too (the policy then points av's SSO calls at the endpoint). */
  sso?: SsoOptions
}): Promise<CustodyWorld> {
  const sudoersFile = newDropIn()
  const password = `e2e-${randomBytes(6).toString('hex')}`
  let endpoint: SigV4Endpoint | undefined
  let install: Installed | undefined
  let sandbox: KeyringSandbox | undefined
  let base: string | undefined
  const stop = async () => {
    if (sandbox) spawnSync('/usr/sbin/usermod', ['-p', '!', sandbox.user.name])
    await sandbox?.stop()
    removeInstall(install)
    rmSync(sudoersFile, {force: true})
    if (base) rmSync(base, {force: true, recursive: true})
    await endpoint?.stop()
  }

  try {
    endpoint = await startEndpoint({
      credentials: [options.key],
      keyDelayMs: options.keyDelayMs,
      ...(options.sso ? {sso: options.sso} : {}),
    })
    sweepStaleDropIns()
    base = e2eTempDir(options.prefix)
    install = installAv(
      {
        iam: {endpoint: endpoint.url},
        sts: {endpoint: endpoint.url},
        ...(options.sso
          ? {signin: {endpoint: endpoint.url}, sso: {oidcEndpoint: endpoint.url, portalEndpoint: endpoint.url}}
          : {}),
      },
      REPO_ROOT,
      custodyArgs(base, sudoersFile),
    )
    sandbox = await startKeyringSandbox()
    const chpasswd = spawnSync('/usr/sbin/chpasswd', {encoding: 'utf8', input: `${sandbox.user.name}:${password}\n`})
    assert.equal(chpasswd.status, 0, chpasswd.stderr)
  } catch (error) {
    await stop()
    throw error
  }

  const {uid} = sandbox.user
  const custodyBase = base
  return {
    base,
    endpoint,
    install,
    item: (account) =>
      path.join(custodyBase, 'custody', String(uid), `${Buffer.from(account).toString('base64url')}.item`),
    password,
    sandbox,
    stop,
  }
}
