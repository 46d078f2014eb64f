/** `command_not_found`: `av s3 ls` → "did you mean `av run -- aws s3 ls`?" */
import {Hook} from '@oclif/core'

import {oclifError} from '../base-command.js'
import {AvError} from '../lib/core/errors.js'
import {suggestRun} from '../lib/run/sudo-guard.js'

const hook: Hook<'command_not_found'> = async function (options) {
  const suggestion = suggestRun(options.id, options.argv ?? []) ?? 'Run `av help` for the list of commands.'
  this.error(
    ...oclifError(new AvError('usage', `"${options.id.replaceAll(':', ' ')}" is not an av command.`, {suggestion})),
  )
}

export default hook
