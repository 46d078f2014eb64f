/**
 * The AWS credentials and config files on disk: bounded reads, atomic writes that keep mode, owner and
 * symlinks, and no copy of a secret left behind.
 *
 * A write goes to a temp file in the target's own directory (same file system), which is fsynced, given the
 * old file's mode and owner, renamed over the target and followed by an fsync of the directory. A symlinked
 * file is written at its target, so the link stays a link. A temp file orphaned by a killed run is removed by
 * the next run (`removeOrphanedTemps`) once its writer is gone.
 */
/* eslint-disable no-await-in-loop -- every step waits for the one before it: the order is the safety argument */
import {randomBytes} from 'node:crypto'
import {promises as fs, constants as fsConstants} from 'node:fs'
import path from 'node:path'

import {AvError} from '../core/errors.js'
import {awsConfigFile, awsCredentialsFile, type PathEnv} from '../core/paths.js'
import {IniDocument, type IniFileKind} from './ini-document.js'

/** Real AWS files are a few KiB; anything this big is not one, and av will not load it into memory. */
export const MAX_AWS_FILE_BYTES = 1024 * 1024

export interface AwsFileSnapshot {
  /** The path as configured (may be a symlink). */
  path: string
  kind: IniFileKind
  /** The file's bytes, or null when it does not exist. */
  bytes: Buffer | null
  /** Mode and owner of the target, when it exists. */
  mode?: number
  uid?: number
  gid?: number
}

/** The file-system seam migrate and restore use; tests wrap it to slow or fail it. */
export interface AwsFileSystem {
  read(file: string, kind: IniFileKind): Promise<AwsFileSnapshot>
  /** Atomically replace (or create, mode 0600) the file's target with `bytes`. */
  write(file: string, bytes: Buffer, like: AwsFileSnapshot): Promise<void>
  /** Remove a file av created (the config file restore empties); a missing file is fine. */
  remove(file: string): Promise<void>
}

export function awsFilePaths(env: PathEnv): {config: string; credentials: string} {
  return {config: awsConfigFile(env), credentials: awsCredentialsFile(env)}
}

/** Parse a snapshot; a missing file is an empty document. */
export function documentOf(snapshot: AwsFileSnapshot): IniDocument {
  return snapshot.bytes === null
    ? IniDocument.empty(snapshot.path, snapshot.kind)
    : IniDocument.parse(snapshot.bytes, snapshot.path, snapshot.kind)
}

const TEMP_MARK = '.av-'

function tempName(target: string): string {
  return path.join(
    path.dirname(target),
    `.${path.basename(target)}${TEMP_MARK}${process.pid}-${randomBytes(4).toString('hex')}.tmp`,
  )
}

function fileError(file: string, what: string, error: unknown): AvError {
  const code = (error as NodeJS.ErrnoException).code ?? 'error'
  return new AvError('bad-input', `${file}: ${what} (${code})`, {
    cause: error,
    suggestion: `Check that ${path.dirname(file)} and the file are yours and writable.`,
  })
}

/** The file a path names after following symlinks; for a missing file, the path itself (its link target if dangling). */
async function targetOf(file: string): Promise<string> {
  try {
    return await fs.realpath(file)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw fileError(file, 'cannot resolve the path', error)
    try {
      const link = await fs.readlink(file)
      return path.resolve(path.dirname(file), link)
    } catch {
      return file
    }
  }
}

export const realAwsFileSystem: AwsFileSystem = {
  async read(file, kind) {
    let handle: fs.FileHandle
    try {
      handle = await fs.open(file, fsConstants.O_RDONLY | fsConstants.O_NOCTTY)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {path: file, kind, bytes: null}
      throw fileError(file, 'cannot be read', error)
    }

    try {
      const stat = await handle.stat()
      if (!stat.isFile()) {
        throw new AvError('bad-input', `${file}: not a regular file`, {suggestion: 'Point av at the AWS file itself.'})
      }

      if (stat.size > MAX_AWS_FILE_BYTES) {
        throw new AvError(
          'bad-input',
          `${file}: ${stat.size} bytes, more than av's limit of ${MAX_AWS_FILE_BYTES} bytes for an AWS file`,
          {suggestion: 'Check that this is really your AWS file; nothing was changed.'},
        )
      }

      const bytes = await handle.readFile()
      if (bytes.length > MAX_AWS_FILE_BYTES) {
        throw new AvError('bad-input', `${file}: grew past av's limit of ${MAX_AWS_FILE_BYTES} bytes while being read`)
      }

      return {path: file, kind, bytes, mode: stat.mode & 0o7777, uid: stat.uid, gid: stat.gid}
    } finally {
      await handle.close()
    }
  },

  async remove(file) {
    try {
      await fs.unlink(await targetOf(file))
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw fileError(file, 'cannot be removed', error)
    }
  },

  async write(file, bytes, like) {
    const target = await targetOf(file)
    const dir = path.dirname(target)
    if (like.bytes === null) {
      try {
        await fs.mkdir(dir, {mode: 0o700, recursive: true})
      } catch (error) {
        throw fileError(dir, 'cannot be created', error)
      }
    }

    const temp = tempName(target)
    const mode = like.mode ?? 0o600
    let handle: fs.FileHandle | undefined
    try {
      handle = await fs.open(temp, 'wx', 0o600)
      await handle.writeFile(bytes)
      await handle.chmod(mode)
      if (
        like.uid !== undefined &&
        like.gid !== undefined &&
        (like.uid !== process.getuid?.() || like.gid !== process.getgid?.())
      ) {
        await handle.chown(like.uid, like.gid)
      }

      await handle.sync()
      await handle.close()
      handle = undefined
      await fs.rename(temp, target)
    } catch (error) {
      await handle?.close().catch(() => {})
      await fs.unlink(temp).catch(() => {})
      throw fileError(file, 'cannot be written', error)
    }

    const dirHandle = await fs.open(dir, fsConstants.O_RDONLY)
    try {
      await dirHandle.sync()
    } finally {
      await dirHandle.close()
    }
  },
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Remove temp files a killed av left next to `file`'s target (they may hold keys). Returns how many. */
export async function removeOrphanedTemps(file: string): Promise<number> {
  const target = await targetOf(file)
  const prefix = `.${path.basename(target)}${TEMP_MARK}`
  let names: string[]
  try {
    names = await fs.readdir(path.dirname(target))
  } catch {
    return 0
  }

  let removed = 0
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue
    const pid = Number(name.slice(prefix.length).split('-')[0])
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid)) continue
    await fs.unlink(path.join(path.dirname(target), name)).catch(() => {})
    removed++
  }

  return removed
}

async function lockIsYoung(lockFile: string): Promise<boolean> {
  const stat = await fs.stat(lockFile).catch(() => null)
  return stat !== null && Date.now() - stat.mtimeMs < 5000
}

/**
 * An exclusive lock file (O_EXCL) holding the owner's pid. A lock whose pid is gone is stale and taken over;
 * a live one refuses with `busy`. Returns the release function.
 */
export async function acquireLock(lockFile: string, what: string): Promise<() => Promise<void>> {
  await fs.mkdir(path.dirname(lockFile), {mode: 0o700, recursive: true})
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await fs.open(lockFile, 'wx', 0o600)
      await handle.writeFile(`${process.pid}\n`)
      await handle.close()
      return async () => {
        await fs.unlink(lockFile).catch(() => {})
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw fileError(lockFile, 'cannot be created', error)
    }

    const owner = Number((await fs.readFile(lockFile, 'utf8').catch(() => '')).trim())
    // A lock with no pid yet may be one being written this instant: only call it stale once it is old.
    const valid = Number.isInteger(owner) && owner > 0
    if ((valid && pidAlive(owner)) || (!valid && (await lockIsYoung(lockFile)))) {
      throw new AvError(
        'busy',
        `another av ${what} is running (pid ${valid ? owner : 'unknown'}); this one changed nothing`,
        {
          suggestion: `Wait for it to finish. If no av is running, remove ${lockFile}.`,
        },
      )
    }

    await fs.unlink(lockFile).catch(() => {})
  }

  throw new AvError('busy', `the lock ${lockFile} could not be taken`, {suggestion: `Remove ${lockFile} and retry.`})
}
