/**
 * What root-side code (the root launcher, the custody entry point) does on a user's behalf, with that user's
 * rights and never root's: read a file the user names, and start a program as the user. The account comes from
 * the account database, never from the caller's environment (sudo resets HOME to root's).
 */
import {type ChildProcess, spawn, type StdioOptions} from 'node:child_process'
import {closeSync, constants, fstatSync, openSync, readFileSync} from 'node:fs'

import type {UserAccount} from './root-launcher.js'

import {AvError} from '../core/errors.js'
import {passwdEntry} from '../core/passwd.js'

/** Files root reads for a user are small (AWS config, av settings, a --cli-input-json file). */
const MAX_BYTES = 1024 * 1024

/** The account of `uid` from /etc/passwd. */
export function accountOf(uid: number): UserAccount {
  const entry = passwdEntry(uid)
  if (!entry?.home) throw new AvError('not-found', `uid ${uid} has no entry with a home directory in /etc/passwd`)
  return {gid: entry.gid, home: entry.home, name: entry.name, uid}
}

/**
 * The supplementary groups this process last set (only readAsUser sets them; they stay set after it, harmlessly
 * for root). Each set*id call is broadcast to every thread of the process, ~1.5 ms apiece in the root launcher:
 * setting the same groups again would change nothing.
 */
let groupsSetTo: null | number = null

/** Open and read `file` with the user's effective uid and gid (root's rights are back before returning). */
export function readAsUser(uid: number, gid: number, file: string, maxBytes = MAX_BYTES): Buffer {
  const [read] = readAllAsUser(uid, gid, [file], maxBytes)
  if (read instanceof Error) throw read
  return read!
}

/**
 * Each of `files` opened with the user's rights in one switch of ids (five set*id calls however many files), then
 * read as root through the open descriptors: its bytes, or why it could not be read.
 */
export function readAllAsUser(uid: number, gid: number, files: string[], maxBytes = MAX_BYTES): Array<Buffer | Error> {
  if (groupsSetTo !== gid) {
    process.setgroups?.([gid])
    groupsSetTo = gid
  }

  const opened: Array<Error | number> = []
  process.setegid?.(gid)
  process.seteuid?.(uid)
  try {
    for (const file of files) {
      try {
        opened.push(openSync(file, constants.O_RDONLY | constants.O_NONBLOCK))
      } catch (error) {
        opened.push(error as Error)
      }
    }
  } finally {
    process.seteuid?.(0)
    process.setegid?.(0)
  }

  return opened.map((fd, i) => (typeof fd === 'number' ? readOpened(fd, files[i]!, maxBytes) : fd))
}

function readOpened(fd: number, file: string, maxBytes: number): Buffer | Error {
  try {
    const stat = fstatSync(fd)
    if (!stat.isFile() || stat.size > maxBytes)
      return new Error(`${file} is not a regular file of at most ${maxBytes} bytes`)
    return readFileSync(fd)
  } catch (error) {
    return error as Error
  } finally {
    closeSync(fd)
  }
}

/**
 * Start `argv` as the user: uid and primary gid set before exec, supplementary groups dropped (libuv does
 * that when it changes ids), so nothing of root's stays with the child.
 */
export function spawnAsUser(
  argv: string[],
  options: {cwd: string; env: Record<string, string>; gid: number; stdio?: StdioOptions; uid: number},
): ChildProcess {
  return spawn(argv[0]!, argv.slice(1), {
    cwd: options.cwd,
    env: options.env,
    gid: options.gid,
    stdio: options.stdio ?? 'inherit',
    uid: options.uid,
  })
}
