/**
 * `av restore`: the exact inverse of `av migrate`. The keys go back into the credentials file at the lines they
 * came from (the restore record in each keychain item says where and with which spacing), av's
 * `credential_process` lines leave the config file (with the sections, blank line or file av created), and
 * only then are the keychain items deleted. Interrupted anywhere, every key is in the credentials file, in the
 * store, or both; a re-run finishes the job and never writes a key into the file twice.
 */
/* eslint-disable no-await-in-loop -- every step waits for the one before it: the order is the safety argument */
import type {AuditSink} from '../audit/audit.js'
import type {IniDocument} from '../aws/ini-document.js'
import type {StepReporter} from '../core/progress.js'
import type {AwsKeyPair} from '../store/credentials.js'
import type {SecretStore} from '../store/secret-store.js'

import {acquireLock, type AwsFileSystem, removeOrphanedTemps} from '../aws/aws-files.js'
import {AvError} from '../core/errors.js'
import {silentReporter} from '../core/progress.js'
import {isLoginAccount} from '../sessions/login-session.js'
import {isSsoAccount} from '../sessions/sso-settings.js'
import {profileAccount, profileOfAccount} from '../store/credentials.js'
import {KEYCHAIN_LABEL, storeLabel} from '../store/secret-store.js'
import {readState, sameBytes, type Snapshots, writeVerified} from './migrate.js'
import {type StoreView} from './migration-plan.js'
import {avEntry, CREDENTIAL_KEYS, decodeStoredProfile, type StoredProfile} from './migration-record.js'

export type RestoreSkipReason = 'not-stored' | 'plaintext-differs'

export interface RestorePlan {
  profiles: string[]
  skipped: Array<{detail: string; profile: string; reason: RestoreSkipReason}>
  credentials: {after: Buffer; before: Buffer}
  config: {after: Buffer | null; before: Buffer | null}
}

export interface RestoreFiles {
  credentials: IniDocument
  config: IniDocument
  configExists: boolean
}

function keyValues(pair: AwsKeyPair): Record<(typeof CREDENTIAL_KEYS)[number], string | undefined> {
  const [id, secret, token] = CREDENTIAL_KEYS
  return {[id]: pair.accessKeyId, [secret]: pair.secretAccessKey, [token]: pair.sessionToken}
}

/** Pure: the bytes both files will have once `profiles` (default: every stored one) are restored. */
export function planRestore(
  files: RestoreFiles,
  store: StoreView,
  profiles: string[],
  where: string = KEYCHAIN_LABEL,
): RestorePlan {
  const credentials = files.credentials.clone()
  const config = files.config.clone()
  const plan: RestorePlan = {
    profiles: [],
    skipped: [],
    credentials: {before: files.credentials.serialize(), after: Buffer.alloc(0)},
    config: {before: files.configExists ? files.config.serialize() : null, after: null},
  }
  let createdFile = false
  for (const profile of profiles) {
    const raw = store[profile] ?? null
    if (raw === null) {
      plan.skipped.push({profile, reason: 'not-stored', detail: `${where} holds no keys for ${profile}`})
      continue
    }

    const stored = decodeStoredProfile(profileAccount(profile), raw)
    const values = keyValues(stored.pair)
    const section = credentials.section(profile)
    const present = section ? CREDENTIAL_KEYS.filter((k) => credentials.get(section, k)) : []
    if (present.length > 0) {
      const same = CREDENTIAL_KEYS.every((k) => credentials.get(section!, k)?.value === values[k])
      if (!same) {
        plan.skipped.push({
          profile,
          reason: 'plaintext-differs',
          detail: `${credentials.file} line ${section!.start + 1}: the profile already has other keys; its item in ${where} was kept`,
        })
        continue
      }
    } else {
      putKeysBack(credentials, profile, stored)
    }

    removeHelperLine(config, profile, stored)
    createdFile ||= stored.record?.config.createdFile === true
    plan.profiles.push(profile)
  }

  plan.credentials.after = credentials.serialize()
  const emptied = config.lines.length === 0 && !config.bom
  plan.config.after =
    createdFile && emptied ? null : files.configExists || config.lines.length > 0 ? config.serialize() : null
  return plan
}

function putKeysBack(credentials: IniDocument, profile: string, stored: StoredProfile): void {
  const values = keyValues(stored.pair)
  const section = credentials.section(profile)
  const record = stored.record?.credentials
  if (section && record && section.end - section.start === record.remaining) {
    // The section is as migrate left it: every line goes back to its own place with its own bytes.
    for (const line of record.lines) {
      credentials.insertRawLines(section.start + line.offset, [
        {text: line.before + values[line.key]! + line.after, eol: line.eol},
      ])
    }

    return
  }

  // The section was edited (or removed) since: add the keys at its end in the usual spelling.
  const texts = CREDENTIAL_KEYS.filter((k) => values[k] !== undefined).map((k) => `${k} = ${values[k]}`)
  if (section) {
    credentials.insertLines(Math.max(section.start + 1, ...section.entries.map((e) => e.end)), texts)
  } else {
    const last = credentials.lines.at(-1)
    const blank = last !== undefined && last.text.trim() !== '' ? [''] : []
    credentials.insertLines(credentials.lines.length, [...blank, credentials.sectionHeader(profile), ...texts])
  }
}

function removeHelperLine(config: IniDocument, profile: string, stored: StoredProfile): void {
  const section = config.section(profile)
  const entry = avEntry(config, section, profile)
  if (!section || !entry) return
  const record = stored.record?.config
  if (record?.replaced !== undefined) {
    config.replaceLine(entry.line, record.replaced)
    return
  }

  const onlyLine =
    section.entries.length === 1 && config.lines.slice(section.start + 1, entry.line).every((l) => l.text.trim() === '')
  if (record?.createdSection && onlyLine) {
    const indices: number[] = []
    if (record.addedBlank && section.start > 0 && config.lines[section.start - 1]!.text.trim() === '') {
      indices.push(section.start - 1)
    }

    for (let i = section.start; i <= entry.line; i++) indices.push(i)
    config.removeInsertedLines(indices)
    return
  }

  config.removeInsertedLines([entry.line])
}

export interface RestoreDeps {
  store: SecretStore
  fs: AwsFileSystem
  audit: AuditSink
  paths: {config: string; credentials: string}
  lockFile: string
  interactive: boolean
  confirm?: (question: string) => Promise<boolean>
  report?: StepReporter
}

export interface RestoreOptions {
  profiles?: string[]
  dryRun?: boolean
  yes?: boolean
}

export interface RestoreResult {
  dryRun: boolean
  restored: string[]
  skipped: RestorePlan['skipped']
  files: {config: string; credentials: string}
  /** IAM Identity Center sign-ins av keeps holding: restore does not write tokens back into a plaintext cache. */
  ssoSignIns: string[]
  summary: string
}

/** What restore says about av's IAM Identity Center sign-ins (config untouched by migrate; tokens stay with av). */
function ssoNote(signIns: string[]): string {
  if (signIns.length === 0) return ''
  return (
    `. av still holds the IAM Identity Center or console sign-in(s) ${signIns.join(', ')} (migrate left ~/.aws/config as it was): ` +
    "the AWS CLI outside av needs `aws sso login` (or `aws login`) again, and `av logout --all` removes av's"
  )
}

/** The whole `av restore`: lock, probe, read, plan, confirm (it writes keys into a plain file), apply, audit. */
export async function restore(deps: RestoreDeps, options: RestoreOptions): Promise<RestoreResult> {
  const release = options.dryRun ? async () => {} : await acquireLock(deps.lockFile, 'migrate or restore')
  try {
    await deps.store.probe()
    if (!options.dryRun) {
      await removeOrphanedTemps(deps.paths.credentials)
      await removeOrphanedTemps(deps.paths.config)
    }

    const accounts = await deps.store.list()
    const storedProfiles = accounts.map((a) => profileOfAccount(a)).filter((p) => p !== null)
    const signIns = options.profiles
      ? []
      : accounts.filter((a) => isSsoAccount(a) || isLoginAccount(a)).map((a) => a.replace(/^(?:sso|login):/, ''))
    const profiles = options.profiles ? [...new Set(options.profiles)] : storedProfiles
    let {files, snapshots, store} = await readState(deps, profiles)
    let plan = planRestore(files, store, profiles, storeLabel(deps.store))
    const result: RestoreResult = {
      dryRun: options.dryRun === true,
      restored: plan.profiles,
      skipped: plan.skipped,
      files: deps.paths,
      ssoSignIns: signIns,
      summary: '',
    }
    if (plan.profiles.length === 0) {
      result.summary = `nothing to restore: ${storeLabel(deps.store)} holds no keys av moved${ssoNote(signIns)}`
      return result
    }

    const rotated = await rotatedOf(deps.store, plan.profiles)
    const what =
      `write the keys of ${plan.profiles.join(', ')} back into ${deps.paths.credentials} (a plain file any program you run can read), ` +
      `remove av's credential_process lines from ${deps.paths.config} and delete ${plan.profiles.length} item(s) from ${storeLabel(deps.store)}`
    if (options.dryRun) {
      result.summary = `would ${what}${rotated}`
      return result
    }

    if (deps.store.unseal) {
      // Root custody hands the keys out only behind the user's password, asked by sudo (a --yes from here proves
      // nothing); then plan again over the real items, and over the files as they are after the wait.
      await deps.store.unseal(plan.profiles.map((p) => profileAccount(p)))
      ;({files, snapshots, store} = await readState(deps, plan.profiles))
      plan = planRestore(files, store, plan.profiles, storeLabel(deps.store))
      result.restored = plan.profiles
      result.skipped = [...result.skipped, ...plan.skipped]
    } else if (!options.yes) {
      if (!deps.interactive || !deps.confirm) {
        throw new AvError(
          'needs-confirmation',
          `av restore would ${what}; it needs a person to confirm it; nothing was changed`,
          {
            suggestion: 'Run it in a terminal, or add --yes if you mean it.',
          },
        )
      }

      if (!(await deps.confirm(`av will ${what}. Go ahead?`)))
        throw new AvError('refused', 'cancelled; nothing was changed')
    }

    await applyRestore(plan, snapshots, deps)
    const audited = await deps.audit.record({event: 'restore', profiles: plan.profiles}).then(
      () => '',
      (error: Error) => ` (warning: ${error.message})`,
    )
    result.summary =
      `wrote the keys of ${plan.profiles.join(', ')} back into ${deps.paths.credentials} and removed them from ${storeLabel(deps.store)}` +
      audited +
      rotated +
      ssoNote(signIns)
    return result
  } finally {
    await release()
  }
}

/**
 * A note for profiles whose key `av rotate` replaced: restore writes back that new key (the one migrate took no
 * longer exists in IAM), so the credentials file is not byte-identical to before migrate there.
 */
async function rotatedOf(store: RestoreDeps['store'], profiles: string[]): Promise<string> {
  const notes: string[] = []
  for (const profile of profiles) {
    const raw = await store.get(profileAccount(profile))
    const rotated = raw === null ? undefined : (JSON.parse(raw) as {rotated?: {at?: string; from?: string}}).rotated
    if (rotated?.from)
      notes.push(`${profile} (av rotate replaced ${rotated.from} on ${rotated.at ?? 'an earlier day'})`)
  }

  return notes.length === 0
    ? ''
    : `\nthe key written back for ${notes.join(', ')} is the new one av rotate made: the key migrate took no longer exists, so those lines differ from before migrate`
}

async function applyRestore(plan: RestorePlan, files: Snapshots, deps: RestoreDeps): Promise<void> {
  const report = deps.report ?? silentReporter
  const credentialsChange = !plan.credentials.after.equals(plan.credentials.before)
  const configChange = !sameBytes(plan.config.after, plan.config.before)
  const titles = [
    ...(credentialsChange ? [`Write the keys back into ${files.credentials.path}`] : []),
    ...(configChange ? [`Remove av from ${files.config.path}`] : []),
    ...plan.profiles.map((p) => `Delete the item of ${p} from ${storeLabel(deps.store)}`),
  ]
  report.begin(titles)
  let step = 0
  let credentialsWritten = false
  try {
    if (credentialsChange) {
      report.start(step)
      await writeVerified(deps.fs, files.credentials, plan.credentials.after)
      credentialsWritten = true
      report.done(step++)
    }

    if (configChange) {
      report.start(step)
      await (plan.config.after === null
        ? deps.fs.remove(files.config.path)
        : writeVerified(deps.fs, files.config, plan.config.after))
      report.done(step++)
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    report.fail(step, message)
    await report.end()
    const where = storeLabel(deps.store)
    let state = `${files.credentials.path} and ${files.config.path} are as they were; the keys are still in ${where}.`
    if (credentialsWritten) {
      try {
        await deps.fs.write(files.credentials.path, plan.credentials.before, files.credentials)
      } catch {
        state = `The keys are in ${files.credentials.path} and still in ${where}; run \`av restore\` again to finish.`
      }
    }

    throw new AvError(error instanceof AvError ? error.code : 'internal', `restore failed (${message}). ${state}`, {
      cause: error,
    })
  }

  const left: string[] = []
  for (const profile of plan.profiles) {
    report.start(step)
    try {
      await deps.store.delete(profileAccount(profile))
      report.done(step++)
    } catch {
      report.fail(step++, `${storeLabel(deps.store)} unavailable`)
      left.push(profile)
    }
  }

  await report.end()
  if (left.length > 0) {
    throw new AvError(
      'store-unavailable',
      `the keys are back in ${files.credentials.path} but the items of ${left.join(', ')} in ${storeLabel(deps.store)} could not be deleted`,
      {
        suggestion: `Make ${storeLabel(deps.store)} answer (\`av doctor\` checks it) and run \`av restore\` again to delete them.`,
      },
    )
  }
}
