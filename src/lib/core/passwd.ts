/** The account database, for root-side code that must not trust a caller's HOME (sudo resets it to root's). */
import {readFileSync} from 'node:fs'

export interface PasswdEntry {
  name: string
  gid: number
  /** Empty when the entry names none. */
  home: string
}

/** The /etc/passwd entry of `uid`, or null when there is none. */
export function passwdEntry(uid: number, text: string = readFileSync('/etc/passwd', 'utf8')): null | PasswdEntry {
  for (const line of text.split('\n')) {
    const f = line.split(':')
    if (f[2] === String(uid) && f[3] !== undefined) return {gid: Number(f[3]), home: f[5] ?? '', name: f[0]!}
  }

  return null
}
