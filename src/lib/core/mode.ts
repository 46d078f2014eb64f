/**
 * The one plain line each mode is described by, wherever av names the mode (install, `av status`, `av doctor`):
 * what an agent running as the user can still do, and how to change it.
 */
export const CUSTODY_LINE =
  'mode: custody: your keys are root-owned, root runs the aws launcher, and a held command needs your password.'

export const KEYCHAIN_LINE =
  'mode: keychain: an agent running as you can read the keys in your keychain and answer av’s approval prompts. ' +
  'On Linux, `sudo av install` (custody, the default) closes that; then run `av migrate` to move your keys.'
