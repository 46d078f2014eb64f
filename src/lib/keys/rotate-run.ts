/**
 * The whole `av rotate` as the user runs it: which profiles, the approval, then the rotation itself — in this
 * process over the keychain (keychain mode), or by root through the password-guarded custody entry (custody mode:
 * the new secret never enters a process of the user's uid). See rotate.ts for the steps and the journal.
 */
import type {Policy} from '../core/policy.js'
import type {SecretStore} from '../store/secret-store.js'

import {acquireLock} from '../aws/aws-files.js'
import {AvError} from '../core/errors.js'
import {type CustodyStep, rotateInCustody} from '../custody/custody-client.js'
import {profileAccount, profileOfAccount} from '../store/credentials.js'
import {type RotateDeps, rotateProfile, type RotateResult, rotateSummary} from './rotate.js'
import {type ProfileProgress} from './step-display.js'

export interface RotateRunDeps {
  /** The custody entry point (custody mode), or null (keychain mode: `engine` runs here). */
  custodyEntry: null | string
  /** The mode's durable store: lists the profiles (custody: sealed items only). */
  store: SecretStore
  /** The rotation's world in keychain mode, minus the store and the step display. */
  engine: Omit<RotateDeps, 'step' | 'store'>
  interactive: boolean
  confirm?: (question: string) => Promise<boolean>
  /** The lock migrate and restore take: they must not run while a key changes. */
  lockFile: string
  /** One line per step (nothing with --json). */
  line: (text: string) => void
  /** On a terminal: a listr2 list instead of the lines. */
  progress?: ProfileProgress
  rotateInCustody?: typeof rotateInCustody
  policy?: Policy
}

export interface RotateRunResult {
  mode: 'custody' | 'keychain'
  results: RotateResult[]
  summary: string
}

async function durableProfiles(store: SecretStore, wanted: string[] | undefined): Promise<string[]> {
  const held = (await store.list()).map((a) => profileOfAccount(a)).filter((p) => p !== null)
  if (wanted && wanted.length > 0) {
    const missing = wanted.filter((p) => !held.includes(p))
    if (missing.length > 0) {
      throw new AvError('not-found', `av holds no key for ${missing.join(', ')}`, {
        suggestion: 'Run `av migrate` first (av rotates the keys it holds), or check the profile names.',
      })
    }

    return [...new Set(wanted)]
  }

  const profiles: string[] = []
  for (const profile of held) {
    const raw = await store.get(profileAccount(profile)) // eslint-disable-line no-await-in-loop -- a few items
    // A stored pair that is itself temporary (a session token) has no IAM key behind it to rotate.
    if (raw !== null && (JSON.parse(raw) as {sessionToken?: unknown}).sessionToken === undefined) profiles.push(profile)
  }

  if (profiles.length === 0) {
    throw new AvError('not-found', 'av holds no IAM user key to rotate', {suggestion: 'Run `av migrate` first.'})
  }

  return profiles
}

/** `av rotate [--profile P]… [--yes]`. */
export async function rotateKeys(
  deps: RotateRunDeps,
  options: {profiles?: string[]; yes?: boolean},
): Promise<RotateRunResult> {
  const release = await acquireLock(deps.lockFile, 'migrate, restore or rotate')
  try {
    const profiles = await durableProfiles(deps.store, options.profiles)
    const {progress} = deps
    const show = (s: CustodyStep | {profile: string; step: string; text: string}) => {
      const line = `${s.step.padEnd(8)} ${s.text}`
      if (progress) progress.step(profiles, s.profile, line, s.step === 'sessions')
      else deps.line(`${s.profile}: ${line}`)
    }

    let results: RotateResult[]
    if (deps.custodyEntry === null) {
      if (!options.yes) {
        if (!deps.interactive || !deps.confirm) {
          throw new AvError(
            'needs-confirmation',
            `av rotate would replace the AWS keys of ${profiles.join(', ')}, and there is no terminal to confirm it; nothing was changed`,
            {suggestion: 'Run it in a terminal, or pass --yes.'},
          )
        }

        if (
          !(await deps.confirm(
            `av will create a new AWS key for ${profiles.join(', ')} and delete the old one. Go ahead?`,
          ))
        ) {
          throw new AvError('denied', 'not confirmed; nothing was changed')
        }
      }

      await deps.store.probe()
      results = []
      for (const profile of profiles) {
        results.push(
          // eslint-disable-next-line no-await-in-loop -- one profile after the other, each to the end
          await rotateProfile(
            {...deps.engine, step: (p, step, text) => show({profile: p, step, text}), store: deps.store},
            profile,
          ),
        )
      }
    } else {
      // The password sudo asks is the approval, as for an elevated run; --yes does not replace it.
      results = await (deps.rotateInCustody ?? rotateInCustody)<RotateResult>(deps.custodyEntry, profiles, show)
    }

    await progress?.end()

    const lines = results.map((r) => rotateSummary(r))
    const restoreNote = '`av restore` now writes back the new key (the old one no longer exists).'
    return {
      mode: deps.custodyEntry === null ? 'keychain' : 'custody',
      results,
      summary: `Rotated ${results.length} key(s):\n${lines.join('\n')}\n${restoreNote}`,
    }
  } catch (error) {
    await deps.progress?.end(error as Error)
    throw error
  } finally {
    await release()
  }
}
