/**
 * A lossless INI document for the AWS credentials and config files.
 *
 * The bytes are kept as lines (text + its own line ending, the UTF-8 BOM aside), so an unchanged document
 * serializes to identical bytes and an edit touches only the lines it names. On top of the lines sits the view
 * the AWS SDKs read (`@smithy/shared-ini-file-loader` semantics, which the unit tests use as the oracle):
 * - a line is cut at the first `#` or `;` that starts the line or follows whitespace, then trimmed;
 * - `[name]` opens a section; `[profile x]`, `[sso-session x]`, `[services x]` are typed sections;
 * - `key = value` splits at the first `=`; a key with an empty value opens a nested block (`s3 =`) whose
 *   indented `k = v` lines are read as `s3.k`; an unindented key line closes the block.
 *
 * Parsing is strict where the SDKs and the AWS CLI (Python configparser) would read a file differently or not
 * at all, because av must not guess with somebody's keys: duplicate sections or keys, key lines outside a
 * section, lines that are not `key = value`, `[profile x]` in a credentials file, bytes that are not UTF-8.
 * Errors name the file, the line number and the problem, never a value.
 */
import {AvError} from '../core/errors.js'

export type Eol = '' | '\n' | '\r\n'
export type IniFileKind = 'config' | 'credentials'

export interface IniLine {
  /** The line without its ending (and without the BOM on the first line). */
  text: string
  eol: Eol
}

export interface IniEntry {
  /** The key as the SDK names it: `region`, or `s3.max_concurrent_requests` inside a nested block. */
  key: string
  /** The value as the SDK reads it (inline comment cut, trimmed); '' for a nested block's opening line. */
  value: string
  /** Index of the key line. */
  line: number
  /** One past the last line that belongs to this key (its nested or continuation lines). */
  end: number
  /** The key line starts with whitespace outside a nested block: the AWS CLI reads it as a continuation. */
  indented: boolean
  /** The line carries an inline comment that the SDKs cut and the AWS CLI keeps as part of the value. */
  inlineComment: boolean
  /** For keys inside a nested block, the index of the block's opening entry in the section's entries. */
  parent?: number
}

export interface IniSection {
  /** The header's inner text as written: `default`, `profile dev`, `sso-session corp`. */
  header: string
  /** The SDK's name for the section (`default`, `profile.dev`), or null when the SDKs ignore it. */
  sdkName: null | string
  /** The profile this section configures in a file of this kind, or null. */
  profile: null | string
  /** Index of the header line; the section runs to `end` (exclusive), the next header or the end of file. */
  start: number
  end: number
  entries: IniEntry[]
}

/** The SDK's section-name grammar for typed sections (`profile x`, `sso-session x`, `services x`). */
const PREFIXED = /^([\w-]+)\s(["'])?([\w-@+.%:/]+)\2$/
const SECTION_TYPES = new Set(['profile', 'services', 'sso-session'])
const INLINE_COMMENT = /(^|\s)[;#]/

/** What the SDK looks at in a line: cut at an inline comment, trimmed. */
export function effectiveText(text: string): string {
  return text.split(INLINE_COMMENT)[0]!.trim()
}

function sdkSectionName(header: string): null | string {
  const match = PREFIXED.exec(header)
  if (!match) return header
  return SECTION_TYPES.has(match[1]!) ? `${match[1]}.${match[3]}` : null
}

function profileOf(kind: IniFileKind, header: string, sdkName: null | string): null | string {
  if (sdkName === null) return null
  // In a credentials file every readable section is a profile, except the typed ones (`services x`).
  if (kind === 'credentials') return PREFIXED.test(header) ? null : sdkName
  if (sdkName === 'default') return 'default'
  return sdkName.startsWith('profile.') ? sdkName.slice('profile.'.length) : null
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf])

export class IniDocument {
  readonly file: string
  readonly kind: IniFileKind
  bom: boolean
  lines: IniLine[]
  sections: IniSection[] = []

  private constructor(file: string, kind: IniFileKind, bom: boolean, lines: IniLine[]) {
    this.file = file
    this.kind = kind
    this.bom = bom
    this.lines = lines
    this.index()
  }

  /** Parse a file's bytes. `file` is only used to name the file in errors. */
  static parse(bytes: Uint8Array, file: string, kind: IniFileKind): IniDocument {
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const bom = buffer.subarray(0, 3).equals(BOM)
    const body = bom ? buffer.subarray(3) : buffer
    const decoder = new TextDecoder('utf8', {fatal: true})
    const lines: IniLine[] = []
    let start = 0
    while (start < body.length) {
      const newline = body.indexOf(0x0a, start)
      const stop = newline === -1 ? body.length : newline
      let text: string
      try {
        text = decoder.decode(body.subarray(start, stop))
      } catch {
        throw iniError(file, lines.length + 1, 'bytes that are not UTF-8', 'Save the file as UTF-8.')
      }

      if (newline === -1) {
        lines.push({text, eol: ''})
      } else if (text.endsWith('\r')) {
        lines.push({text: text.slice(0, -1), eol: '\r\n'})
      } else {
        lines.push({text, eol: '\n'})
      }

      start = stop + 1
    }

    return new IniDocument(file, kind, bom, lines)
  }

  /** An empty document for a file that does not exist yet. */
  static empty(file: string, kind: IniFileKind): IniDocument {
    return new IniDocument(file, kind, false, [])
  }

  /** The line ending this file uses: the first one found, `\n` for a file that has none. */
  get eol(): '\n' | '\r\n' {
    const found = this.lines.find((l) => l.eol !== '')
    return found?.eol === '\r\n' ? '\r\n' : '\n'
  }

  clone(): IniDocument {
    return new IniDocument(
      this.file,
      this.kind,
      this.bom,
      this.lines.map((l) => ({...l})),
    )
  }

  /** The top-level entry for `key` in a section, or undefined. */
  get(section: IniSection, key: string): IniEntry | undefined {
    return section.entries.find((e) => e.parent === undefined && e.key === key)
  }

  /**
   * Insert lines before index `at`. When they land after a last line that has no line ending, that line takes
   * the file's ending and the inserted block ends without one, so the file still ends the way it did.
   */
  insertLines(at: number, texts: string[]): void {
    if (texts.length === 0) return
    const added: IniLine[] = texts.map((text) => ({text, eol: this.eol}))
    const previous = this.lines[at - 1]
    if (at === this.lines.length && previous && previous.eol === '') {
      previous.eol = this.eol
      added.at(-1)!.eol = ''
    }

    this.lines.splice(at, 0, ...added)
    this.index()
  }

  /** Insert lines exactly as given (text and ending), e.g. to put back lines an earlier edit removed. */
  insertRawLines(at: number, lines: IniLine[]): void {
    this.lines.splice(at, 0, ...lines.map((l) => ({...l})))
    this.index()
  }

  /**
   * Remove lines av inserted with `insertLines`: the exact inverse, including the last line's missing ending.
   * `indices` must be sorted ascending.
   */
  removeInsertedLines(indices: number[]): void {
    const lastRemoved = this.lines[indices.at(-1) ?? -1]
    const wasLast = indices.at(-1) === this.lines.length - 1 && lastRemoved?.eol === ''
    this.removeLines(indices)
    if (wasLast && this.lines.length > 0) this.lines.at(-1)!.eol = ''
    this.index()
  }

  /** Remove lines by index (any order); line endings of other lines are untouched. */
  removeLines(indices: number[]): void {
    const drop = new Set(indices)
    this.lines = this.lines.filter((_, i) => !drop.has(i))
    this.index()
  }

  /** Replace one line's text, keeping its ending. */
  replaceLine(index: number, text: string): void {
    this.lines[index]!.text = text
    this.index()
  }

  /** The section the SDK reads for a profile in this kind of file. */
  section(profile: string): IniSection | undefined {
    return this.sections.find((s) => s.profile === profile)
  }

  serialize(): Buffer {
    const text = this.lines.map((l) => l.text + l.eol).join('')
    const body = Buffer.from(text, 'utf8')
    return this.bom ? Buffer.concat([BOM, body]) : body
  }

  /** The header line av writes for a profile's section in this kind of file. */
  sectionHeader(profile: string): string {
    return this.kind === 'config' && profile !== 'default' ? `[profile ${profile}]` : `[${profile}]`
  }

  /** What the SDK reads from this document: section → key → value (config files: profiles keyed as the SDK does). */
  view(): Record<string, Record<string, string>> {
    const map: Record<string, Record<string, string>> = {}
    for (const section of this.sections) {
      if (section.sdkName === null) continue
      for (const entry of section.entries) {
        if (entry.value === '') continue
        map[section.sdkName] ??= {}
        map[section.sdkName]![entry.key] = entry.value
      }
    }

    return map
  }

  /** Error for a line of this document (1-based line numbers in the message). */
  lineError(index: number, problem: string, suggestion?: string): AvError {
    return iniError(this.file, index + 1, problem, suggestion)
  }

  /** Read a section header line; throws for the headers av refuses (see the module comment). */
  private header(
    i: number,
    text: string,
    seen: Map<string, number>,
  ): {header: string; identity: string; profile: null | string; sdkName: null | string} {
    if (!text.endsWith(']')) throw this.lineError(i, 'a section header without its closing `]`')
    const header = text.slice(1, -1)
    if (header === '__proto__' || header === 'profile __proto__') {
      throw this.lineError(i, `the section name [${header}] is not allowed`)
    }

    const sdkName = sdkSectionName(header)
    if (this.kind === 'credentials' && sdkName?.startsWith('profile.')) {
      throw this.lineError(
        i,
        'a [profile NAME] header in a credentials file (the credentials file names profiles without `profile `)',
        'Rename the header to [NAME], or move the section to the config file.',
      )
    }

    const profile = profileOf(this.kind, header, sdkName)
    const identity = profile === null ? `section:${sdkName ?? header}` : `profile:${profile}`
    const first = seen.get(identity)
    if (first !== undefined) {
      throw this.lineError(
        i,
        `a duplicate section [${header}] (the same section starts at line ${first + 1})`,
        'Merge the two sections into one.',
      )
    }

    return {header, identity, profile, sdkName}
  }

  /** Rebuild sections and entries from the lines; throws on anything the SDKs and the AWS CLI read differently. */
  private index(): void {
    const sections: IniSection[] = []
    const seenSections = new Map<string, number>()
    let section: IniSection | undefined
    let block: number | undefined
    let seenKeys = new Map<string, number>()
    for (const [i, line] of this.lines.entries()) {
      const text = effectiveText(line.text)
      if (text === '') continue
      if (text.startsWith('[')) {
        const {header, identity, profile, sdkName} = this.header(i, text, seenSections)
        seenSections.set(identity, i)
        if (section) section.end = i
        section = {header, sdkName, profile, start: i, end: this.lines.length, entries: []}
        sections.push(section)
        block = undefined
        seenKeys = new Map()
        continue
      }

      if (!section) {
        throw this.lineError(i, 'a line outside any section', 'Put a [section] header above it or remove it.')
      }

      const indented = line.text.trimStart() !== line.text
      const equals = text.indexOf('=')
      const previous = section.entries.at(-1)
      if (equals <= 0) {
        // configparser reads an indented line as the continuation of the value above it; the SDKs skip it.
        if (indented && previous) {
          this.extend(section, previous, i)
          continue
        }

        throw this.lineError(i, 'a line that is not `key = value`')
      }

      const key = text.slice(0, equals).trim()
      const value = text.slice(equals + 1).trim()
      const inlineComment = INLINE_COMMENT.test(line.text.slice(line.text.indexOf('=') + 1))
      let entry: IniEntry
      if (value === '') {
        block = section.entries.length
        entry = {key, value, line: i, end: i + 1, indented: false, inlineComment}
      } else {
        if (block !== undefined && !indented) block = undefined
        if (block === undefined) {
          entry = {key, value, line: i, end: i + 1, indented: indented && previous !== undefined, inlineComment}
          if (entry.indented) this.extend(section, previous!, i)
        } else {
          const parent = section.entries[block]!
          entry = {
            key: `${parent.key}.${key}`,
            value,
            line: i,
            end: i + 1,
            indented: false,
            inlineComment,
            parent: block,
          }
          parent.end = i + 1
        }
      }

      const firstKey = seenKeys.get(entry.key)
      if (firstKey !== undefined) {
        throw this.lineError(i, `a duplicate key ${entry.key} (first set at line ${firstKey + 1})`, 'Keep one of them.')
      }

      seenKeys.set(entry.key, i)
      section.entries.push(entry)
    }

    this.sections = sections
  }

  private extend(section: IniSection, entry: IniEntry, line: number): void {
    entry.end = line + 1
    if (entry.parent !== undefined) section.entries[entry.parent]!.end = line + 1
  }
}

export function iniError(file: string, line: number, problem: string, suggestion?: string): AvError {
  return new AvError('bad-input', `${file} line ${line}: ${problem}`, {
    suggestion: suggestion ?? 'Fix that line, then run the command again; nothing was changed.',
  })
}
