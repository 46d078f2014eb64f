import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {IniDocument} from '../../../src/lib/aws/ini-document.js'
import {planMigration, type StoreView} from '../../../src/lib/keys/migration-plan.js'
import {encodeStoredProfile, helperLine} from '../../../src/lib/keys/migration-record.js'

const AV = '/opt/av/bin/run.js'
const PAIR = 'aws_access_key_id = AKIAAVCANARY00000001\naws_secret_access_key = avCanarySecret1\n'
const STORED = encodeStoredProfile(
  {accessKeyId: 'AKIAAVCANARY00000001', secretAccessKey: 'avCanarySecret1'},
  {
    v: 1,
    credentials: {lines: [], remaining: 1},
    config: {line: helperLine(AV, 'a'), createdSection: true, addedBlank: false, createdFile: true},
  },
)

interface Row {
  name: string
  credentials: string
  config: string
  store?: StoreView
  force?: boolean
  profiles?: string[]
  moves: string[]
  skipped?: Array<[string, string]>
  already?: string[]
  /** Expected config record of the first move, when it matters. */
  createdSection?: boolean
}

const rows: Row[] = [
  {name: 'a plain pair moves', credentials: `[a]\n${PAIR}`, config: '', moves: ['a'], createdSection: true},
  {
    name: 'an existing config section gets the line, not a new section',
    credentials: `[a]\n${PAIR}`,
    config: '[profile a]\nregion = x\n',
    moves: ['a'],
    createdSection: false,
  },
  {
    name: 'role_arn skips',
    credentials: `[a]\n${PAIR}`,
    config: '[profile a]\nrole_arn = arn:aws:iam::1:role/r\n',
    moves: [],
    skipped: [['a', 'role-arn']],
  },
  {
    name: 'sso_session skips',
    credentials: `[a]\n${PAIR}`,
    config: '[profile a]\nsso_session = corp\n',
    moves: [],
    skipped: [['a', 'sso']],
  },
  {
    name: 'legacy sso_start_url skips',
    credentials: `[a]\n${PAIR}`,
    config: '[profile a]\nsso_start_url = https://x\n',
    moves: [],
    skipped: [['a', 'sso']],
  },
  {
    name: 'login_session skips',
    credentials: `[a]\n${PAIR}`,
    config: '[profile a]\nlogin_session = arn:aws:iam::1:user/u\n',
    moves: [],
    skipped: [['a', 'login-session']],
  },
  {
    name: 'another credential_process skips',
    credentials: `[a]\n${PAIR}`,
    config: '[profile a]\ncredential_process = /bin/other\n',
    moves: [],
    skipped: [['a', 'other-credential-process']],
  },
  {
    name: '--force replaces another credential_process only',
    credentials: `[a]\n${PAIR}[b]\n${PAIR}`,
    config: '[profile a]\ncredential_process = /bin/other\n[profile b]\nrole_arn = arn:aws:iam::1:role/r\n',
    force: true,
    moves: ['a'],
    skipped: [['b', 'role-arn']],
  },
  {
    name: 'av’s line for another profile is another credential_process',
    credentials: `[a]\n${PAIR}`,
    config: `[profile a]\n${helperLine(AV, 'b')}\n`,
    moves: [],
    skipped: [['a', 'other-credential-process']],
  },
  {
    name: 'already moved (no keys in the file, stored, referenced)',
    credentials: '[a]\n',
    config: `[profile a]\n${helperLine(AV, 'a')}\n`,
    store: {a: STORED},
    moves: [],
    already: ['a'],
  },
  {
    name: 'resumed after a kill: keys still in the file, config already points at av, the stored record wins',
    credentials: `[a]\n${PAIR}`,
    config: `[profile a]\n${helperLine(AV, 'a')}\n`,
    store: {a: STORED},
    moves: ['a'],
    createdSection: true,
  },
  {
    name: '--profile picks one',
    credentials: `[a]\n${PAIR}[b]\n${PAIR}`,
    config: '',
    profiles: ['b'],
    moves: ['b'],
  },
]

describe('planMigration', () => {
  for (const row of rows) {
    it(row.name, () => {
      const plan = planMigration(
        {
          credentials: IniDocument.parse(Buffer.from(row.credentials), 'credentials', 'credentials'),
          config: IniDocument.parse(Buffer.from(row.config), 'config', 'config'),
          configExists: true,
        },
        row.store ?? {},
        {avPath: AV, force: row.force, profiles: row.profiles},
      )
      assert.deepEqual(
        plan.moves.map((m) => m.profile),
        row.moves,
      )
      assert.deepEqual(
        plan.skipped.map((s) => [s.profile, s.reason]),
        row.skipped ?? [],
      )
      assert.deepEqual(plan.already, row.already ?? [])
      if (row.createdSection !== undefined)
        assert.equal(plan.moves[0]!.record.config.createdSection, row.createdSection)
      for (const skip of plan.skipped) assert.match(skip.detail, /^config line \d+: the profile /)
      // A plan is pure: skipped or already-moved profiles leave the bytes as they were.
      if (row.moves.length === 0) {
        assert.equal(plan.credentials.after.toString(), row.credentials)
        assert.equal(plan.config.after.toString(), row.config)
      }
    })
  }
})
