import {loadSharedConfigFiles} from '@smithy/shared-ini-file-loader'
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {describe, it} from 'node:test'

import {IniDocument, type IniFileKind} from '../../../src/lib/aws/ini-document.js'
import {AvError} from '../../../src/lib/core/errors.js'
import {CANARY_SECRET, CORPUS} from '../../fixtures/aws-corpus.js'

const dir = mkdtempSync(path.join(tmpdir(), 'av-migrate-ini-'))
process.on('exit', () => rmSync(dir, {force: true, recursive: true}))

/** The SDK's own reading of a pair of files (the oracle). */
async function sdkRead(credentials: string, config: null | string) {
  const filepath = path.join(dir, `credentials-${Math.random()}`)
  const configFilepath = path.join(dir, `config-${Math.random()}`)
  writeFileSync(filepath, credentials)
  if (config !== null) writeFileSync(configFilepath, config)
  return loadSharedConfigFiles({configFilepath, filepath, ignoreCache: true})
}

/** av's document seen the way loadSharedConfigFiles shapes it: config keeps default and typed sections. */
function shaped(doc: IniDocument): Record<string, Record<string, string>> {
  const view = doc.view()
  if (doc.kind === 'credentials') return view
  const out: Record<string, Record<string, string>> = {}
  for (const [name, keys] of Object.entries(view)) {
    if (name === 'default') out.default = keys
    else if (name.startsWith('profile.')) out[name.slice('profile.'.length)] = keys
    else if (/^(sso-session|services)\./.test(name)) out[name] = keys
  }

  return out
}

function parse(text: string, kind: IniFileKind, file = `/home/u/.aws/${kind}`) {
  return IniDocument.parse(Buffer.from(text), file, kind)
}

describe('INI document: corpus', () => {
  for (const c of CORPUS) {
    it(`${c.name}: serializes back to identical bytes`, () => {
      for (const [kind, text] of [
        ['credentials', c.credentials],
        ['config', c.config],
      ] as const) {
        if (text === null) continue
        const bytes = Buffer.from(text)
        assert.deepEqual(IniDocument.parse(bytes, kind, kind).serialize(), bytes)
      }
    })

    it(`${c.name}: reads the same profiles and keys as @smithy/shared-ini-file-loader`, async () => {
      const sdk = await sdkRead(c.credentials, c.config)
      assert.deepEqual(shaped(parse(c.credentials, 'credentials')), sdk.credentialsFile)
      if (c.config !== null) assert.deepEqual(shaped(parse(c.config, 'config')), sdk.configFile)
    })
  }

  it('keeps each line its own ending and the BOM', () => {
    const doc = parse('\uFEFF[a]\r\nx = 1\ny = 2', 'config')
    assert.equal(doc.bom, true)
    assert.deepEqual(
      doc.lines.map((l) => l.eol),
      ['\r\n', '\n', ''],
    )
    assert.equal(doc.eol, '\r\n')
  })
})

describe('INI document: edits', () => {
  it('inserting after a last line without an ending, then removing, is the identity', () => {
    const text = '[profile a]\r\nregion = x'
    const doc = parse(text, 'config')
    doc.insertLines(2, ['credential_process = /av'])
    assert.equal(doc.serialize().toString(), '[profile a]\r\nregion = x\r\ncredential_process = /av')
    doc.removeInsertedLines([2])
    assert.equal(doc.serialize().toString(), text)
  })

  it('removes a nested block with its indented lines', () => {
    const doc = parse('[default]\ns3 =\n  a = 1\n  b = 2\nregion = x\n', 'config')
    const entry = doc.get(doc.section('default')!, 's3')!
    assert.deepEqual([entry.line, entry.end], [1, 4])
    doc.removeLines([1, 2, 3])
    assert.equal(doc.serialize().toString(), '[default]\nregion = x\n')
  })
})

describe('INI document: strict errors name file, line and problem, never a value', () => {
  const table: Array<[string, IniFileKind, string, RegExp]> = [
    [
      'duplicate section',
      'credentials',
      `[a]\nk = ${CANARY_SECRET}1\n[b]\n[a]\n`,
      /credentials line 4: a duplicate section \[a\] \(the same section starts at line 1\)/,
    ],
    [
      '[default] and [profile default] in config',
      'config',
      '[default]\n[profile default]\n',
      /config line 2: a duplicate section/,
    ],
    [
      '[profile x] in a credentials file',
      'credentials',
      `[profile x]\naws_secret_access_key = ${CANARY_SECRET}\n`,
      /credentials line 1: a \[profile NAME\] header in a credentials file/,
    ],
    [
      'key line outside any section',
      'credentials',
      `aws_secret_access_key = ${CANARY_SECRET}\n[a]\n`,
      /credentials line 1: a line outside any section/,
    ],
    [
      'a line that is not key = value',
      'credentials',
      `[a]\n${CANARY_SECRET}\n`,
      /credentials line 2: a line that is not `key = value`/,
    ],
    [
      'duplicate key',
      'credentials',
      `[a]\nk = 1\nk = ${CANARY_SECRET}\n`,
      /credentials line 3: a duplicate key k \(first set at line 2\)/,
    ],
    ['unclosed header', 'config', '[profile a\n', /config line 1: a section header without its closing/],
  ]
  for (const [name, kind, text, message] of table) {
    it(name, () => {
      assert.throws(
        () => parse(text, kind),
        (error: unknown) => {
          assert.ok(error instanceof AvError)
          assert.equal(error.code, 'bad-input')
          assert.match(error.message, message)
          assert.ok(!error.message.includes(CANARY_SECRET))
          assert.ok(error.message.startsWith(`/home/u/.aws/${kind} line`))
          return true
        },
      )
    })
  }

  it('non-UTF-8 bytes: names the line', () => {
    const bytes = Buffer.concat([Buffer.from('[a]\nk = ok\nv = '), Buffer.from([0xff, 0xfe]), Buffer.from('\n')])
    assert.throws(() => IniDocument.parse(bytes, '/f', 'credentials'), /\/f line 3: bytes that are not UTF-8/)
  })
})
