/* eslint-disable camelcase -- environment variable names and AWS config keys are snake_case */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {parseAwsProfiles} from '../../../src/lib/aws/aws-profiles.js'
import {
  buildChildEnv,
  buildSealedConfig,
  hashConfig,
  ignoredSettingsNotice,
  quoteWord,
  SEALED_PATH,
} from '../../../src/lib/aws/sealed-runtime.js'

const CANARY_SECRET = 'avCanarySecretXXXXXXXXXXXXXXXXXXXXXXXXXX'
const input = {configFile: '/run/av-run-x/.aws/config', home: '/run/av-run-x', profile: 'work', token: 'tok.en'}

describe('buildChildEnv', () => {
  const hostile: NodeJS.ProcessEnv = {
    AWS_ACCESS_KEY_ID: 'AKIAAVCANARY0000XXXX',
    AWS_CA_BUNDLE: '/home/u/evil.pem',
    AWS_CLI_AUTO_PROMPT: 'on',
    AWS_CONFIG_FILE: '/home/u/.aws/evil',
    AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://evil',
    AWS_DATA_PATH: '/home/u/models',
    AWS_DEFAULT_PROFILE: 'other',
    AWS_ENDPOINT_URL: 'http://evil.example',
    AWS_ENDPOINT_URL_STS: 'http://evil.example',
    AWS_PAGER: 'sh -c evil',
    AWS_PROFILE: 'other',
    AWS_SECRET_ACCESS_KEY: CANARY_SECRET,
    AWS_SESSION_TOKEN: 'token',
    AWS_SHARED_CREDENTIALS_FILE: '/home/u/.aws/credentials',
    AV_RUN_TOKEN: 'stolen',
    BROWSER: 'evil',
    HOME: '/home/u',
    HTTPS_PROXY: 'http://evil:8080',
    LD_LIBRARY_PATH: '/home/u/lib',
    LD_PRELOAD: '/home/u/evil.so',
    NODE_OPTIONS: '--require /home/u/evil.js',
    OPENSSL_CONF: '/home/u/openssl.cnf',
    LESSSECURE: '0',
    LESSSECURE_ALLOW: 'shell,edit,pipe',
    MANPAGER: 'sh -c evil',
    PAGER: 'evil',
    PATH: '/home/u/bin:/usr/bin',
    PYTHONPATH: '/home/u/py',
    PYTHONSTARTUP: '/home/u/py/s.py',
    SSL_CERT_FILE: '/home/u/ca.pem',
    http_proxy: 'http://evil:8080',
  }

  it('passes nothing from a hostile parent environment but what av sets itself', () => {
    const env = buildChildEnv(hostile, input)
    assert.deepEqual(env, {
      AV_RUN_TOKEN: 'tok.en',
      AWS_CLI_AUTO_PROMPT: 'off',
      AWS_CONFIG_FILE: input.configFile,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_PAGER: '',
      AWS_PROFILE: 'work',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      HOME: input.home,
      LESSSECURE: '1',
      PATH: SEALED_PATH,
    })
    assert.doesNotMatch(JSON.stringify(env), /avCanarySecret|AKIAAVCANARY/)
  })

  const passes: Array<[string, string, boolean]> = [
    ['TERM', 'xterm-256color', true],
    ['LANG', 'C.UTF-8', true],
    ['LC_ALL', 'en_US.UTF-8', true],
    ['LC_CTYPE', 'C.utf8', true],
    ['TZ', 'Europe/Paris', true],
    ['COLUMNS', '120', true],
    ['LINES', '40', true],
    ['DBUS_SESSION_BUS_ADDRESS', 'unix:path=/run/user/1000/bus', true],
    ['XDG_RUNTIME_DIR', '/run/user/1000', true],
    ['AWS_REGION', 'eu-west-1', true],
    ['AWS_DEFAULT_REGION', 'us-east-1', true],
    ['AWS_DEFAULT_OUTPUT', 'json', true],
    ['AWS_REGION', 'evil.example.com/#', false],
    ['AWS_DEFAULT_OUTPUT', 'sh', false],
    ['TERM', 'xterm\u001B]0;x', false],
    ['LC_ALL_EVIL', 'x', false],
    ['LESSOPEN', '|evil %s', false],
    ['PYTHONHOME', '/home/u', false],
    ['DYLD_INSERT_LIBRARIES', '/x', false],
    ['NO_PROXY', '*', false],
  ]
  for (const [name, value, expected] of passes) {
    it(`${expected ? 'passes' : 'drops'} ${name}=${JSON.stringify(value)}`, () => {
      const env = buildChildEnv({[name]: value}, input)
      assert.equal(env[name], expected ? value : undefined)
    })
  }
})

describe('buildSealedConfig', () => {
  const userConfig = [
    '[default]',
    'region = us-east-1',
    'credential_process = /home/u/steal.sh',
    '[profile work]',
    'region = eu-west-1 # Paris is closer',
    'output = table',
    'endpoint_url = http://evil.example',
    'ca_bundle = /home/u/evil.pem',
    'cli_pager = sh -c evil',
    'cli_history = enabled',
    'credential_process = /home/u/steal.sh',
    'role_arn = arn:aws:iam::123456789012:role/admin',
    'source_profile = default',
    'mfa_serial = arn:aws:iam::123456789012:mfa/u',
    `aws_secret_access_key = ${CANARY_SECRET}`,
    'aws_access_key_id = AKIAAVCANARY0000XXXX',
    'retry_mode = standard',
    'max_attempts = 5',
    'cli_binary_format = raw-in-base64-out',
    'sso_session = corp',
    'services = evil',
    'future_setting_with_power = on',
    's3 =',
    '    addressing_style = path',
    '    endpoint_url = http://evil.example',
    '    max_concurrent_requests = 20',
    '[sso-session corp]',
    'sso_start_url = https://evil.example/start',
    '[services evil]',
    'sts =',
    '  endpoint_url = http://evil.example',
    '[plugins]',
    'evil = evil_module',
    '',
  ].join('\n')
  const avEntry = '/opt/av/lib/av/bin/run.js'

  it('keeps only allowlisted settings of the bound profile, plus av’s credential_process', async () => {
    const text = buildSealedConfig(parseAwsProfiles(userConfig), {avEntry, profile: 'work'})
    assert.equal(
      text,
      [
        '[profile work]',
        'cli_binary_format = raw-in-base64-out',
        'max_attempts = 5',
        'output = table',
        'region = eu-west-1',
        'retry_mode = standard',
        's3 =',
        '    addressing_style = path',
        '    max_concurrent_requests = 20',
        'credential_process = /opt/av/lib/av/bin/run.js credential-helper aws --profile work',
        '',
      ].join('\n'),
    )
    assert.doesNotMatch(text, /avCanarySecret|AKIAAVCANARY|evil|steal/)
  })

  it('writes [default] for the default profile, and only the section header when the profile has no settings', async () => {
    const parsed = parseAwsProfiles(userConfig)
    assert.equal(
      buildSealedConfig(parsed, {avEntry, profile: 'default'}),
      '[default]\nregion = us-east-1\ncredential_process = /opt/av/lib/av/bin/run.js credential-helper aws --profile default\n',
    )
    assert.equal(
      buildSealedConfig(parsed, {avEntry, profile: 'unknown'}),
      '[profile unknown]\ncredential_process = /opt/av/lib/av/bin/run.js credential-helper aws --profile unknown\n',
    )
  })

  it('quotes an entry path with spaces so shlex and sh read it back whole', () => {
    const text = buildSealedConfig({}, {avEntry: "/opt/my av/it's/run.js", profile: 'p'})
    assert.match(text, /^credential_process = '\/opt\/my av\/it'"'"'s\/run\.js' credential-helper aws --profile p$/m)
    assert.equal(quoteWord('a-b_c/d.e'), 'a-b_c/d.e')
  })

  it('refuses profile names that could break out of a section header or the command line', () => {
    for (const profile of ['a]\n[default', 'a b', '', 'x;rm', "it's"]) {
      assert.throws(() => buildSealedConfig({}, {avEntry, profile}), {code: 'usage'})
    }
  })

  it('drops values of allowlisted keys that do not have the expected shape', () => {
    const text = buildSealedConfig(
      {p: {max_attempts: '5; x', output: 'json\nx', region: 'evil.com/#'}},
      {avEntry, profile: 'p'},
    )
    assert.equal(
      text,
      '[profile p]\ncredential_process = /opt/av/lib/av/bin/run.js credential-helper aws --profile p\n',
    )
  })

  it('hashes the config bytes', () => {
    assert.equal(hashConfig(''), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
  })
})

describe('ignoredSettingsNotice', () => {
  const cases: Array<[string, null | string, boolean, null | RegExp]> = [
    ['nothing to say', '[default]\nregion = x\n', false, null],
    ['no config at all', null, false, null],
    ['plugins', '[plugins]\nx = y\n', false, /\[plugins\]/],
    ['history', '[default]\ncli_history = enabled\n', false, /cli_history = enabled/],
    ['history disabled', '[default]\ncli_history = disabled\n', false, null],
    ['aliases', null, true, /aliases in ~\/\.aws\/cli\/alias/],
  ]
  for (const [name, text, alias, expected] of cases) {
    it(name, () => {
      const notice = ignoredSettingsNotice(text, alias)
      if (expected === null) assert.equal(notice, null)
      else assert.match(notice ?? '', expected)
    })
  }

  it('says everything in one line', () => {
    const notice = ignoredSettingsNotice('[plugins]\n[default]\ncli_history = enabled\n', true)
    assert.equal(
      notice,
      'av: [plugins], cli_history = enabled, aliases in ~/.aws/cli/alias from your AWS config ignored inside av runs (they could run code or store responses)',
    )
  })
})
