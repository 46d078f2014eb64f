/**
 * `av doctor`, the AWS CLI's own extras: `[plugins]`, cli_history, aliases and custom service models, which av runs
 * never load but a plain `aws` run does.
 */
import * as nodeFs from 'node:fs'
import path from 'node:path'

import {awsConfigFile} from '../core/paths.js'
import {type Check, type DoctorDeps, type IniData, ok, readText, tilde, warn} from './doctor-check.js'

/** `[plugins]`, cli_history, aliases, custom models: harmless inside av runs (private HOME), exposed outside them. */
export function checkCliExtras(deps: DoctorDeps, config: IniData): Check[] {
  const {home} = deps
  const aws = path.join(home, '.aws')
  const outside = 'av runs never load it (they use a private HOME), but a plain `aws` run does'
  const checks: Check[] = []

  const configText = readText(awsConfigFile(deps)) ?? ''
  checks.push(
    /^\s*\[\s*plugins\s*]/m.test(configText)
      ? warn(
          'plugins',
          `${tilde(awsConfigFile(deps), home)} has a [plugins] section: it loads Python code into the AWS CLI; ${outside}`,
          'Remove the [plugins] section unless you rely on it outside av.',
        )
      : ok('plugins', 'no [plugins] section'),
  )

  const historyOn = Object.entries(config)
    .filter(([name, s]) => !name.includes('.') && s.cli_history?.trim().toLowerCase() === 'enabled')
    .map(([name]) => name)
  const historyDir = path.join(aws, 'cli', 'history')
  const historyKept = nodeFs.existsSync(historyDir)
  if (historyOn.length > 0 || historyKept) {
    const parts = []
    if (historyOn.length > 0) parts.push(`cli_history = enabled for ${historyOn.join(', ')}`)
    if (historyKept)
      parts.push(`${tilde(historyDir, home)} exists (request and response bodies, which can hold secrets)`)
    checks.push(
      warn(
        'cli-history',
        `${parts.join('; ')}; ${outside}`,
        `Remove cli_history from ${tilde(awsConfigFile(deps), home)} and delete ${tilde(historyDir, home)}.`,
      ),
    )
  } else checks.push(ok('cli-history', 'AWS CLI history is off'))

  const aliasFile = path.join(aws, 'cli', 'alias')
  const aliases = (readText(aliasFile) ?? '').split('\n').filter((l) => /^\s*[^\s#;[]/.test(l))
  checks.push(
    aliases.length > 0
      ? warn(
          'aliases',
          `${tilde(aliasFile, home)} defines ${aliases.length} alias line(s): aliases can shadow commands and \`!\` aliases run a shell; ${outside}`,
          `Review ${tilde(aliasFile, home)} and delete what you do not use.`,
        )
      : ok('aliases', 'no AWS CLI aliases'),
  )

  const modelsDir = path.join(aws, 'models')
  let models: string[] = []
  try {
    models = nodeFs.readdirSync(modelsDir)
  } catch {}

  const dataPath = deps.env.AWS_DATA_PATH
  checks.push(
    models.length > 0 || dataPath
      ? warn(
          'models',
          `custom service models (${[models.length > 0 ? tilde(modelsDir, home) : '', dataPath ? 'AWS_DATA_PATH' : ''].filter(Boolean).join(', ')}) can give a sensitive API a harmless-looking name; ${outside}`,
          `Delete ${tilde(modelsDir, home)} (and unset AWS_DATA_PATH) unless you added those models on purpose.`,
        )
      : ok('models', 'no custom AWS CLI service models'),
  )
  return checks
}
