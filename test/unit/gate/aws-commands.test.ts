import assert from 'node:assert/strict'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {describe, it} from 'node:test'

import {AvError} from '../../../src/lib/core/errors.js'
import {
  awsCommandTree,
  indexCommandData,
  indexedCommandData,
  parseCommandData,
} from '../../../src/lib/gate/aws-commands.js'

describe('the AWS CLI command data', () => {
  it('the committed data holds the CLI it came from, its globals and every command, each parsed when named', () => {
    const tree = awsCommandTree()
    assert.match(tree.cli, /^aws-cli\/2\./)
    assert.match(tree.globals, /\bprofile: /)
    assert.ok(tree.names.length > 300, String(tree.names.length))
    assert.ok(tree.names.includes('sts') && tree.names.includes('s3') && tree.names.includes('configure'))
    const sts = tree.command('sts')
    assert.equal(sts?.t, 'svc')
    assert.equal(sts?.s?.['get-caller-identity']?.t, 'op')
    assert.equal(tree.command('no-such-service'), undefined)
    assert.equal(tree.command('@cli'), undefined)
  })

  const BAD: Array<[string, string]> = [
    ['a line without a tab', '@cli\taws-cli/2.0.0\nsts'],
    ['a line with an empty name', '@cli\taws-cli/2.0.0\n\t{}'],
    ['no @cli line', 'sts\t{}'],
    ['no command', '# only a comment\n@cli\taws-cli/2.0.0\n'],
  ]
  for (const [what, text] of BAD) {
    it(`refuses data with ${what} (the gate fails closed rather than parse argv against a wrong tree)`, () => {
      assert.throws(
        () => parseCommandData(Buffer.from(text)),
        (error: unknown) => error instanceof AvError && error.code === 'internal',
      )
    })
  }

  it('reads comments, the two header lines and command lines', () => {
    const data = parseCommandData(Buffer.from('# x\n@cli\taws-cli/2.0.0\n@globals\tdebug!\ns3\t{"t":"cmd"}\n'))
    assert.deepEqual([data.cli, data.globals, data.names], ['aws-cli/2.0.0', 'debug!', ['s3']])
    assert.deepEqual([data.text('s3'), data.text('sts'), data.text('@cli')], ['{"t":"cmd"}', undefined, undefined])
  })

  it('through the index the build writes: the same commands, read one line at a time; a stale index is not used', () => {
    const text = '# x\n@cli\taws-cli/2.0.0\n@globals\tdebug!\ns3\t{"t":"cmd"}\nsts\t{"t":"svc","s":{}}\n'
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'av-cmds-')), 'aws-commands.data')
    writeFileSync(file, text)
    const index = JSON.stringify(indexCommandData(Buffer.from(text)))
    const data = indexedCommandData(file, index)!
    assert.deepEqual([data.cli, data.globals, data.names], ['aws-cli/2.0.0', 'debug!', ['s3', 'sts']])
    assert.deepEqual(
      [data.text('sts'), data.text('s3'), data.text('iam'), data.text('@cli')],
      ['{"t":"svc","s":{}}', '{"t":"cmd"}', undefined, undefined],
    )
    assert.equal(indexedCommandData(file, null), null, 'no index: the caller reads the whole file')
    writeFileSync(file, text + 'iam\t{}\n')
    assert.equal(indexedCommandData(file, index), null, 'data of another size: the index is not trusted')
  })
})
