/**
 * The AWS CLI's own parser (botocore's configloader inside the Debian awscli v2, run as `python3 -I`) reads the
 * migrated files as intended: each moved profile has av's credential_process and no keys; every other profile
 * and setting reads exactly as before.
 */
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {describe, it} from 'node:test'

import {migrate} from '../../src/lib/keys/migrate.js'
import {MemoryFs} from '../fakes/memory-fs.js'
import {MemoryStore} from '../fakes/memory-store.js'
import {CORPUS} from '../fixtures/aws-corpus.js'

const AV = '/opt/av/bin/run.js'
const root = mkdtempSync(path.join(tmpdir(), 'av-migrate-e2e-botocore-'))
process.on('exit', () => rmSync(root, {force: true, recursive: true}))

const DUMP = `
import json, os, sys
from awscli.botocore.configloader import raw_config_parse, load_config
out = {}
for name, path, fn in (('credentials', sys.argv[1], raw_config_parse), ('config', sys.argv[2], lambda p: load_config(p)['profiles'])):
    try:
        out[name] = fn(path) if os.path.isfile(path) else {}
    except Exception as e:
        out[name] = 'error: ' + type(e).__name__
print(json.dumps(out))
`

type Profiles = Record<string, Record<string, unknown>>

function awsCliRead(
  credentials: Buffer | undefined,
  config: Buffer | undefined,
): {config: Profiles | string; credentials: Profiles | string} {
  const dir = mkdtempSync(path.join(root, 'case-'))
  const cred = path.join(dir, 'credentials')
  const conf = path.join(dir, 'config')
  if (credentials) writeFileSync(cred, credentials)
  if (config) writeFileSync(conf, config)
  const out = execFileSync('/usr/bin/python3', ['-I', '-c', DUMP, cred, conf], {encoding: 'utf8'})
  return JSON.parse(out)
}

const CRED = '/h/.aws/credentials'
const CONF = '/h/.aws/config'

describe('the AWS CLI reads the migrated files as intended', () => {
  for (const c of CORPUS.filter((c) => c.moves.length > 0)) {
    it(c.name, async () => {
      const fs = new MemoryFs({[CRED]: c.credentials, ...(c.config === null ? {} : {[CONF]: c.config})})
      const before = awsCliRead(fs.files.get(CRED), fs.files.get(CONF))
      await migrate(
        {
          audit: {async record() {}},
          fs,
          interactive: false,
          lockFile: path.join(mkdtempSync(path.join(root, 'lock-')), 'lock'),
          paths: {config: CONF, credentials: CRED},
          store: new MemoryStore(),
        },
        {avPath: AV, yes: true},
      )
      const now = awsCliRead(fs.files.get(CRED), fs.files.get(CONF))
      if (typeof before.credentials === 'string' || typeof before.config === 'string') {
        // A file the AWS CLI cannot read (a BOM) stays one it cannot read, no better, no worse.
        assert.deepEqual(now, before)
        return
      }

      const expected = structuredClone(before) as {config: Profiles; credentials: Profiles}
      for (const profile of c.moves) {
        for (const key of ['aws_access_key_id', 'aws_secret_access_key', 'aws_session_token']) {
          delete expected.credentials[profile]![key]
        }

        expected.config[profile] = {
          ...expected.config[profile],
          // eslint-disable-next-line camelcase -- the AWS key name
          credential_process: `${AV} credential-helper aws --profile ${profile}`,
        }
      }

      assert.deepEqual(now, expected)
    })
  }
})
