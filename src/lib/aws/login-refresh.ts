/**
 * Renewing a console sign-in (`aws login`) through the AWS SDK's own provider, `@aws-sdk/credential-provider-login`:
 * it signs CreateOAuth2Token with the document's DPoP key and writes the renewed document back to its cache file.
 * av gives it a private directory of its own for the call (0700, made with mkdtemp: root's in custody mode), holding
 * only that document and a one-profile config, then reads the renewed document back and removes the directory.
 *
 * The endpoint is the root policy's `signin.endpoint` when set; otherwise the SDK's genuine one, with configured
 * endpoint URLs (environment, config files) ignored, so nothing of the user's can move the request.
 */
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {loginCacheFileOf} from './sso-cache.js'

const PROFILE = 'av-login'
const CACHE_ENV = 'AWS_LOGIN_CACHE_DIRECTORY'

/** The renewed document for `session`; throws the SDK's error when the sign-in cannot be renewed. */
export async function refreshLoginDocument(
  input: {document: string; region: string; session: string},
  endpoint: null | string,
): Promise<string> {
  if (!/^[a-z\d-]{1,40}$/.test(input.region)) throw new Error('the profile region is not a region name')
  const dir = mkdtempSync(path.join(tmpdir(), 'av-login-'))
  const previous = process.env[CACHE_ENV]
  try {
    const file = loginCacheFileOf(dir, input.session)
    writeFileSync(file, input.document, {mode: 0o600})
    const config = path.join(dir, 'config')
    const lines = [`[profile ${PROFILE}]`, `login_session = ${input.session}`, `region = ${input.region}`]
    writeFileSync(config, lines.join('\n') + '\n', {mode: 0o600})
    const credentials = path.join(dir, 'credentials')
    writeFileSync(credentials, '', {mode: 0o600})
    process.env[CACHE_ENV] = dir
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
    const {fromLoginCredentials} = await import('@aws-sdk/credential-provider-login')
    await fromLoginCredentials({
      clientConfig: endpoint === null ? {ignoreConfiguredEndpointUrls: true} : {endpoint},
      configFilepath: config,
      filepath: credentials,
      profile: PROFILE,
    })()
    return readFileSync(file, 'utf8')
  } finally {
    if (previous === undefined) delete process.env[CACHE_ENV]
    else process.env[CACHE_ENV] = previous
    rmSync(dir, {force: true, recursive: true})
  }
}
