/** The real world for migrate, restore, add, rotate, login, logout, status and doctor's key ages, built from a Context. */
import {spawn} from 'node:child_process'
import {unlink} from 'node:fs/promises'
import path from 'node:path'

import type {StsTarget} from '../aws/sts-client.js'
import type {Policy} from '../core/policy.js'
import type {StatusDeps} from '../inspect/status.js'
import type {AddDeps} from '../keys/add.js'
import type {MigrateDeps} from '../keys/migrate.js'
import type {RotateRunDeps} from '../keys/rotate-run.js'
import type {LoginDeps} from '../keys/sso-login.js'
import type {SignInResult} from '../sessions/sso-tokens.js'
import type {SecretStore} from '../store/secret-store.js'
import type {Context} from '../world/context.js'

import {awsFilePaths, realAwsFileSystem} from '../aws/aws-files.js'
import {readAwsProfiles} from '../aws/aws-profiles.js'
import {queryIam} from '../aws/iam-client.js'
import {stateDir} from '../core/paths.js'
import {silentReporter} from '../core/progress.js'
import {
  CustodyClientStore,
  custodyEntryOf,
  dropSessionsInCustody,
  keyAgesInCustody,
  signInImportInCustody,
  ssoLoginInCustody,
  ssoLogoutInCustody,
} from '../custody/custody-client.js'
import {readText} from '../inspect/doctor-check.js'
import {iamCreateDate, type KeyAge, keyAges} from '../keys/key-age.js'
import {importMove, type SsoMigrateDeps} from '../keys/sso-migrate.js'
import {askHidden, askYesNo, lineReporter, listrProfiles, listrReporter} from '../keys/step-display.js'

export const LOCK_FILE = 'migrate.lock'

/**
 * Where durable keys live for this user: root custody when the root-owned policy names a custody entry point
 * (`sudo av install`), else the OS keychain.
 */
export function durableStore(ctx: Context, policy: Policy = ctx.policy().policy): SecretStore {
  const entry = custodyEntryOf(policy)
  return entry === null ? ctx.store : new CustodyClientStore(entry)
}

/** What `av status` reads: the AWS files, the policy, the mode's store and, in custody mode, the user's own keychain. */
export function statusDeps(ctx: Context): StatusDeps {
  const {policy} = ctx.policy()
  const store = durableStore(ctx, policy)
  const deps: StatusDeps = {
    fs: realAwsFileSystem,
    now: ctx.clock.now(),
    paths: awsFilePaths(ctx),
    policy,
    ssoCache: {dir: path.join(ctx.home, '.aws', 'sso', 'cache'), read: readText},
    store,
  }
  if (store instanceof CustodyClientStore) deps.custody = {entry: store.entry, keychain: ctx.store}
  return deps
}

/**
 * The durable keys' ages for `av doctor`: root dates the keys it holds (custody), else av reads the keychain and
 * asks IAM with each key; `offline`: the items' own dates only.
 */
export function keyAgesOf(ctx: Context, options: {offline: boolean}): () => Promise<KeyAge[]> {
  const {policy} = ctx.policy()
  const store = durableStore(ctx, policy)
  if (store instanceof CustodyClientStore) return () => keyAgesInCustody<KeyAge>(store.entry, options)
  if (options.offline) return () => keyAges(store)
  const profiles = readAwsProfiles(awsFilePaths(ctx).config)
  return () =>
    keyAges(
      store,
      iamCreateDate(queryIam, policy, (p) => profiles[p]?.region),
    )
}

/** `json`: no progress output (stdout carries the JSON document). */
export function migrationDeps(ctx: Context, options: {json: boolean}): MigrateDeps {
  let report = silentReporter
  if (!options.json) report = ctx.stdoutIsTerminal ? listrReporter() : lineReporter(ctx.stderr)
  const {policy} = ctx.policy()
  const store = durableStore(ctx, policy)
  const configFile = awsFilePaths(ctx).config
  const sso: SsoMigrateDeps = {
    cacheDir: path.join(ctx.home, '.aws', 'sso', 'cache'),
    configText: () => readText(configFile),
    importCache:
      store instanceof CustodyClientStore
        ? (move) => signInImportInCustody(store.entry, move)
        : (move) => importMove(store, ctx.clock, move),
    loginCacheDir: ctx.env.AWS_LOGIN_CACHE_DIRECTORY || path.join(ctx.home, '.aws', 'login', 'cache'),
    policy,
    readFile: readText,
    removeFile: (file) => unlink(file),
  }
  return {
    sso,
    audit: ctx.audit,
    clock: ctx.clock,
    confirm: askYesNo,
    fs: realAwsFileSystem,
    interactive: ctx.interactive,
    lockFile: path.join(stateDir(ctx), LOCK_FILE),
    paths: awsFilePaths(ctx),
    report,
    store,
    ...(store === ctx.store ? {} : {keychain: ctx.store}),
  }
}

/** GetCallerIdentity through the SDK, loaded only when called. */
function callerIdentityOf(ctx: Context): (target: StsTarget) => Promise<{arn: string}> {
  return async (target) => {
    ctx.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
    const {sdkCallerIdentity} = await import('../aws/sts-client.js')
    return sdkCallerIdentity(target)
  }
}

/** The real world for `av add`: the mode's store, the echo-off prompt, GetCallerIdentity to check the key. */
export function addDeps(ctx: Context, options: {avPath: string; json: boolean}): AddDeps {
  const {policy} = ctx.policy()
  const store = durableStore(ctx, policy)
  const profiles = readAwsProfiles(awsFilePaths(ctx).config)
  let report = silentReporter
  if (!options.json) report = ctx.stdoutIsTerminal ? listrReporter() : lineReporter(ctx.stderr)
  return {
    askHidden: (questions) => askHidden(questions, ctx.stderr),
    audit: ctx.audit,
    avPath: options.avPath,
    callerIdentity: callerIdentityOf(ctx),
    clock: ctx.clock,
    fs: realAwsFileSystem,
    lockFile: path.join(stateDir(ctx), LOCK_FILE),
    paths: awsFilePaths(ctx),
    policy,
    regionOf: (profile) => profiles[profile]?.region,
    report,
    store,
  }
}

/** The real world for `av rotate`: custody's entry point, or the keychain and av's own IAM and STS calls. */
export function rotateDeps(ctx: Context, options: {json: boolean}): RotateRunDeps {
  const {policy} = ctx.policy()
  const store = durableStore(ctx, policy)
  const profiles = readAwsProfiles(awsFilePaths(ctx).config)
  return {
    confirm: askYesNo,
    custodyEntry: store instanceof CustodyClientStore ? store.entry : null,
    engine: {
      audit: ctx.audit,
      callerIdentity: callerIdentityOf(ctx),
      clock: ctx.clock,
      iam: async () => queryIam,
      policy,
      regionOf: (profile) => profiles[profile]?.region,
      sleep: (ms) =>
        new Promise((resolve) => {
          setTimeout(resolve, ms)
        }),
    },
    interactive: ctx.interactive,
    line: options.json ? () => {} : (text) => ctx.stdout.write(`${text}\n`),
    lockFile: path.join(stateDir(ctx), LOCK_FILE),
    ...(options.json || !ctx.stdoutIsTerminal ? {} : {progress: listrProfiles()}),
    store,
  }
}

/** Opens `url` in the person's browser when there is a display to show it (best effort, detached, output dropped). */
function browserOpener(ctx: Context): ((url: string) => void) | null {
  const command =
    ctx.platform === 'darwin' ? '/usr/bin/open' : ctx.env.DISPLAY || ctx.env.WAYLAND_DISPLAY ? 'xdg-open' : null
  if (command === null) return null
  return (url) => {
    try {
      const child = spawn(command, [url], {detached: true, stdio: 'ignore'})
      child.once('error', () => {})
      child.unref()
    } catch {
      // No browser: the URL and code are on the terminal.
    }
  }
}

/** The real world for `av login` and `av logout`: root custody's sign-in, or this process against the keychain. */
export function loginDeps(ctx: Context, options: {browser: boolean}): LoginDeps {
  const {policy} = ctx.policy()
  const entry = custodyEntryOf(policy)
  const configFile = awsFilePaths(ctx).config
  return {
    audit: ctx.audit,
    clock: ctx.clock,
    configFile,
    configText: () => readText(configFile),
    custody:
      entry === null
        ? null
        : {
            dropSessions: (accounts) => dropSessionsInCustody(entry, accounts),
            login: (request, file, show) =>
              ssoLoginInCustody<SignInResult>(entry, {configFile: file, ...request}, show),
            logout: (keys) => ssoLogoutInCustody(entry, keys),
          },
    openBrowser: options.browser ? browserOpener(ctx) : null,
    policy,
    say: (line) => ctx.stderr.write(`${line}\n`),
    sleep: (ms) =>
      new Promise((resolve) => {
        setTimeout(resolve, ms)
      }),
    async sso() {
      ctx.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
      const {sdkSso} = await import('../aws/sso-client.js')
      return sdkSso
    },
    store: ctx.store,
  }
}
