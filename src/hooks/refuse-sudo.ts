/**
 * `prerun`: refuse user commands run under sudo. They would touch root's keychain, root's ~/.aws and root's
 * state, not the user's, and leave the user thinking their keys moved. Only install/uninstall want root.
 */
import {Hook} from '@oclif/core'

import {oclifError} from '../base-command.js'
import {sudoRefusal} from '../lib/run/sudo-guard.js'
import {processWorld} from '../lib/world/process-world.js'

const hook: Hook<'prerun'> = async function (options) {
  const {env, uid} = processWorld()
  const refusal = sudoRefusal(options.Command.id, env, uid)
  if (refusal) this.error(...oclifError(refusal))
}

export default hook
