import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {type AwsProfiles, parseAwsProfiles} from '../../../src/lib/aws/aws-profiles.js'

/**
 * The oracle: the AWS SDK's own parser (@smithy/shared-ini-file-loader). It exposes its parser only through file
 * loading, so the text is handed to it as an in-memory file and removed again.
 */
async function sdkConfigProfiles(text: string): Promise<Record<string, unknown>> {
  const {externalDataInterceptor, loadSharedConfigFiles} = await import('@smithy/shared-ini-file-loader')
  const id = `/av-oracle/${process.pid}-${Math.random().toString(36).slice(2)}`
  const files = externalDataInterceptor.getFileRecord() as Record<string, unknown>
  externalDataInterceptor.interceptFile(`${id}/config`, text)
  externalDataInterceptor.interceptFile(`${id}/credentials`, '')
  try {
    const {configFile} = await loadSharedConfigFiles({
      configFilepath: `${id}/config`,
      filepath: `${id}/credentials`,
      ignoreCache: true,
    })
    return configFile
  } finally {
    delete files[`${id}/config`]
    delete files[`${id}/credentials`]
  }
}

/** Plain objects with the same entries (our parser returns null-prototype objects). */
function plain(profiles: AwsProfiles): Record<string, Record<string, string | undefined>> {
  return Object.fromEntries(Object.entries(profiles).map(([name, settings]) => [name, {...settings}]))
}

const CORPUS: Array<[string, string]> = [
  [
    'default and a profile',
    '[default]\nregion = us-east-1\n[profile dev]\nregion = eu-west-1\nmfa_serial = arn:aws:iam::1:mfa/a\n',
  ],
  [
    'CRLF and comments',
    '# top\r\n[profile dev] ; c\r\nregion=eu-west-1 # inline\r\nrole_arn = arn:aws:iam::1:role/x;not-a-comment\r\n',
  ],
  [
    'nested blocks',
    '[profile dev]\ns3 =\n  max_concurrent_requests = 20\n  addressing_style = path\nregion = eu-west-1\n',
  ],
  [
    'typed sections are not profiles',
    '[sso-session corp]\nsso_region = us-east-1\n[services evil]\nsts =\n  endpoint_url = http://x\n[profile a]\nservices = evil\n',
  ],
  [
    'a bare section other than default is ignored',
    '[dev]\nregion = eu-west-1\n[profile "quoted"]\nregion = us-west-2\n',
  ],
  [
    'later duplicates win, keys without value or = are skipped',
    '[profile a]\nregion = a\nregion = b\nnovalue\n=x\n[profile a]\noutput = json\n',
  ],
  ['keys before any section', 'region = x\n[profile p]\nav_session_duration = 1800\nav_session = off\n'],
  ['odd names', '[profile a.b@c:d/e+f%g]\nregion = x\n[profile  two spaces]\nregion = y\n[profile]\nregion = z\n'],
]

describe('AWS config profiles (the SDK parser is the oracle)', () => {
  for (const [name, text] of CORPUS) {
    it(name, async () => {
      const ours = plain(parseAwsProfiles(text))
      const sdk = Object.fromEntries(
        Object.entries(await sdkConfigProfiles(text)).filter(
          ([key]) => !key.includes('.') || !/^(sso-session|services)\./.test(key),
        ),
      )
      assert.deepEqual(ours, plain(sdk as AwsProfiles))
    })
  }

  it('profile names cannot reach the object prototype', () => {
    const profiles = parseAwsProfiles('[profile constructor]\nregion = x\n[profile toString]\nregion = y\n')
    assert.equal(Object.getPrototypeOf(profiles), null)
    assert.deepEqual(plain(profiles), {constructor: {region: 'x'}, toString: {region: 'y'}})
    assert.equal(parseAwsProfiles('').toString, undefined)
  })
})
