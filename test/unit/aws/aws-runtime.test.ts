import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import type {FileFacts} from '../../../src/lib/core/trust.js'

import {findAwsRuntime, type RuntimeFs} from '../../../src/lib/aws/aws-runtime.js'
import {EXIT} from '../../../src/lib/core/errors.js'
import {dir, factsFs, file} from '../../fakes/trust-fs.js'

interface World {
  facts: Record<string, FileFacts>
  heads?: Record<string, string>
  links?: Record<string, string>
}

function fakeFs({facts, heads = {}, links = {}}: World): RuntimeFs {
  return {...factsFs(facts, links), readHead: (p) => heads[links[p] ?? p] ?? null}
}

const SYSTEM = {'/': dir(0), '/usr': dir(0), '/usr/bin': dir(0), '/usr/local': dir(0)}
const DEBIAN = {
  facts: {...SYSTEM, '/usr/bin/aws': file(0), '/usr/bin/python3.11': file(0)},
  heads: {'/usr/bin/aws': '#!/usr/bin/python3\n# Copyright 2012 Amazon.com\n'},
  links: {'/usr/bin/python3': '/usr/bin/python3.11'},
}
const INSTALLER = {
  '/usr/local/aws-cli': dir(0),
  '/usr/local/aws-cli/v2': dir(0),
  '/usr/local/aws-cli/v2/2.22.0': dir(0),
  '/usr/local/aws-cli/v2/2.22.0/dist': dir(0),
  '/usr/local/aws-cli/v2/2.22.0/dist/aws': file(0),
}
const INSTALLER_LINK = {'/usr/local/aws-cli/v2/current/bin/aws': '/usr/local/aws-cli/v2/2.22.0/dist/aws'}
const PYENV = {
  '/home': dir(0),
  '/home/u': dir(1000, 0o700),
  '/home/u/.pyenv': dir(1000),
  '/home/u/.pyenv/shims': dir(1000),
  '/home/u/.pyenv/shims/aws': file(1000),
}
const USER_PATH = {PATH: '/home/u/.pyenv/shims:/usr/bin'}

type Expect = {argv: string[]} | {exit: number; message: RegExp}

const cases: Array<
  [string, {env?: NodeJS.ProcessEnv; platform?: NodeJS.Platform; policy?: string[]; world: World}, Expect]
> = [
  ['Debian layout', {world: DEBIAN}, {argv: ['/usr/bin/python3', '-I', '/usr/bin/aws']}],
  [
    'Debian layout with a versioned interpreter',
    {world: {...DEBIAN, heads: {'/usr/bin/aws': '#!/usr/bin/python3.11\n'}, links: {}}},
    {argv: ['/usr/bin/python3.11', '-I', '/usr/bin/aws']},
  ],
  [
    'official installer layout',
    {world: {facts: {...SYSTEM, ...INSTALLER}, links: INSTALLER_LINK}},
    {argv: ['/usr/local/aws-cli/v2/current/bin/aws']},
  ],
  [
    'Debian first when both are installed',
    {world: {...DEBIAN, facts: {...DEBIAN.facts, ...INSTALLER}, links: {...DEBIAN.links, ...INSTALLER_LINK}}},
    {argv: ['/usr/bin/python3', '-I', '/usr/bin/aws']},
  ],
  [
    'macOS installer',
    {platform: 'darwin', world: {facts: {...SYSTEM, '/usr/local/aws-cli': dir(0), '/usr/local/aws-cli/aws': file(0)}}},
    {argv: ['/usr/local/aws-cli/aws']},
  ],
  [
    'the policy’s runtime wins',
    {
      policy: ['/usr/local/aws-cli/v2/current/bin/aws'],
      world: {...DEBIAN, facts: {...DEBIAN.facts, ...INSTALLER}, links: {...DEBIAN.links, ...INSTALLER_LINK}},
    },
    {argv: ['/usr/local/aws-cli/v2/current/bin/aws']},
  ],
  [
    'policy naming a user-owned python',
    {
      policy: ['/home/u/.pyenv/versions/3.12/bin/python3', '-I', '/usr/bin/aws'],
      world: {
        facts: {
          ...DEBIAN.facts,
          ...PYENV,
          '/home/u/.pyenv/versions': dir(1000),
          '/home/u/.pyenv/versions/3.12': dir(1000),
          '/home/u/.pyenv/versions/3.12/bin': dir(1000),
          '/home/u/.pyenv/versions/3.12/bin/python3': file(1000),
        },
      },
    },
    {exit: EXIT.refused, message: /named by the av policy is not root-controlled .*uid 1000/},
  ],
  [
    'only a pyenv shim on PATH',
    {env: USER_PATH, world: {facts: {...SYSTEM, ...PYENV}}},
    {exit: EXIT.refused, message: /\/home\/u\/\.pyenv\/shims\/aws: .*uid 1000.*user-writable install/},
  ],
  [
    'Debian script run by a user-owned python',
    {world: {...DEBIAN, heads: {'/usr/bin/aws': '#!/home/u/.local/bin/python3\n'}}},
    {exit: EXIT.refused, message: /runs \/home\/u\/\.local\/bin\/python3, not the system/},
  ],
  [
    'entry script in a group-writable directory',
    {world: {...DEBIAN, facts: {...DEBIAN.facts, '/usr/bin': dir(0, 0o775)}}},
    {exit: EXIT.refused, message: /\/usr\/bin is writable by group or others/},
  ],
  [
    'user-owned entry script',
    {world: {...DEBIAN, facts: {...DEBIAN.facts, '/usr/bin/aws': file(1000)}}},
    {exit: EXIT.refused, message: /\/usr\/bin\/aws is owned by uid 1000/},
  ],
  [
    'user-owned interpreter behind the system name',
    {world: {...DEBIAN, facts: {...DEBIAN.facts, '/usr/bin/python3.11': file(1000)}}},
    {exit: EXIT.refused, message: /\/usr\/bin\/python3: \/usr\/bin\/python3\.11 is owned by uid 1000/},
  ],
  [
    'nothing installed',
    {env: {PATH: '/usr/bin:/bin'}, world: {facts: SYSTEM}},
    {exit: EXIT.notFound, message: /no AWS CLI found/},
  ],
]

describe('findAwsRuntime', () => {
  for (const [name, {env = {}, platform = 'linux', policy, world}, expected] of cases) {
    it(name, () => {
      const deps = {env, fs: fakeFs(world), platform, policy: policy ? {awsCli: policy} : {}}
      if ('argv' in expected) {
        assert.deepEqual(findAwsRuntime(deps).argv, expected.argv)
      } else {
        assert.throws(
          () => findAwsRuntime(deps),
          (error: {exit: number; message: string; suggestion: string}) => {
            assert.equal(error.exit, expected.exit)
            assert.match(error.message, expected.message)
            assert.match(error.suggestion, /sudo apt-get install awscli.*sudo av install/)
            return true
          },
        )
      }
    })
  }
})
