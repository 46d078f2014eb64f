/**
 * The `#!/bin/sh` scripts install writes: `av` and the plain `aws` shim exec the root-owned node on the installed
 * copy; in custody mode the `aws` shim hands the argv to the root launcher through `sudo -n`, and the launcher's
 * entry script starts it with an empty environment but the launch variables.
 */
import {LAUNCH_ENV} from '../custody/root-launcher.js'

/** Quote for /bin/sh. */
export function shQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'"'"'`)}'`
}

/**
 * `unset`: variables Node would act on at start that the started av never needs. The keychain `aws` shim drops
 * NODE_EXTRA_CA_CERTS: Node reads and parses that CA file before av's first line (~40 ms on every call), while the
 * launcher makes no TLS connection and never passes the variable on (the CLI's environment is an allowlist).
 */
export function shimText(node: string, entry: string, fixedArgs: string[], unset: string[] = []): string {
  const argv = [node, entry, ...fixedArgs].map((w) => shQuote(w)).join(' ')
  const env = unset.length === 0 ? '' : `/usr/bin/env ${unset.map((name) => `-u ${name}`).join(' ')} `
  return `#!/bin/sh\n# Written by \`sudo av install\`; removed by \`sudo av uninstall\`.\nexec ${env}${argv} "$@"\n`
}

/** The root launcher's entry script: an empty environment but SUDO_UID, the policy and the launch variables. */
export function launchEntryText(input: {node: string; policyFile: string; script: string}): string {
  const passed = LAUNCH_ENV.map((name) => `\${${name}+"${name}=$${name}"}`).join(' ')
  return (
    "#!/bin/sh\n# Written by `sudo av install`; removed by `sudo av uninstall`. Run through `sudo -n` by av's aws launcher.\n" +
    `exec /usr/bin/env -i SUDO_UID="$SUDO_UID" AV_POLICY=${shQuote(input.policyFile)} ${passed} ${shQuote(input.node)} ${shQuote(input.script)} "$@"\n`
  )
}

/**
 * The `aws` shim in custody mode: refuse under a tracer by name (sudo would only say it cannot become root), then
 * hand the argv to the root launcher through `sudo -n`. Only shell builtins run before sudo.
 */
export function custodyShimText(launch: string): string {
  return (
    '#!/bin/sh\n# Written by `sudo av install`; removed by `sudo av uninstall`.\n' +
    'while read -r key value; do\n' +
    '  if [ "$key" = TracerPid: ]; then\n' +
    '    [ "$value" = 0 ] || { echo "av: refused (traced): this aws run is being traced (tracer $value); run it without strace/gdb" >&2; exit 126; }\n' +
    '    break\n' +
    '  fi\n' +
    'done < /proc/self/status\n' +
    `exec /usr/bin/sudo -n ${launch} aws "$@"\n`
  )
}
