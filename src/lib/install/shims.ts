/**
 * The `#!/bin/sh` scripts install writes: `av` and the plain `aws` shim exec the root-owned node on the installed
 * copy; in custody mode the `aws` shim hands the argv to the root launcher through `sudo -n`, and the launcher's
 * entry script starts it with an empty environment but the launch variables.
 */
import {LAUNCH_ENV} from '../custody/root-launcher.js'
import {isStartupVariable, STARTUP_PATH} from '../run/prewarm.js'

/** Quote for /bin/sh. */
export function shQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'"'"'`)}'`
}

const SHIM_HEADER = '#!/bin/sh\n# Written by `sudo av install`; removed by `sudo av uninstall`.\n'

/**
 * `unset`: variables Node would act on at start that the started av never needs. The keychain `aws` shim drops
 * NODE_EXTRA_CA_CERTS: Node reads and parses that CA file before av's first line (~40 ms on every call), while the
 * launcher makes no TLS connection and never passes the variable on (the CLI's environment is an allowlist).
 */
export function shimText(node: string, entry: string, fixedArgs: string[], unset: string[] = []): string {
  return `${SHIM_HEADER}${execLine(node, entry, fixedArgs, unset)}\n`
}

function execLine(node: string, entry: string, fixedArgs: string[], unset: string[] = []): string {
  const argv = [node, entry, ...fixedArgs].map((w) => shQuote(w)).join(' ')
  const env = unset.length === 0 ? '' : `/usr/bin/env ${unset.map((name) => `-u ${name}`).join(' ')} `
  return `exec ${env}${argv} "$@"`
}

/**
 * The root launcher's entry script: an empty environment but SUDO_UID, the policy and the launch variables. With
 * `prewarm` (a Python runtime with custody's interpreter copy), it first starts that interpreter as the user,
 * waiting on a FIFO in the user's root-only runs directory (run/prewarm.ts), and tells the launcher which
 * process that is; when that directory is not there yet, or anything fails, the launcher starts it itself.
 */
export function launchEntryText(input: {
  node: string
  policyFile: string
  prewarm?: {argv: string[]; runDir: string}
  script: string
}): string {
  const passed = LAUNCH_ENV.map((name) => `\${${name}+"${name}=$${name}"}`).join(' ')
  return (
    "#!/bin/sh\n# Written by `sudo av install`; removed by `sudo av uninstall`. Run through `sudo -n` by av's aws launcher.\n" +
    (input.prewarm ? prewarmPrologue(input.prewarm) : '') +
    `exec /usr/bin/env -i SUDO_UID="$SUDO_UID" AV_POLICY=${shQuote(input.policyFile)} ${passed}` +
    // eslint-disable-next-line no-template-curly-in-string -- shell parameter expansion, not a template
    `${input.prewarm ? ' ${prewarm:+"$prewarm"}' : ''} ${shQuote(input.node)} ${shQuote(input.script)} "$@"\n`
  )
}

/**
 * Start the waiting interpreter as the sudo caller (uid and gid from sudo, no other group, the locale and time zone
 * only) with the user's arguments after `aws`, its stdin the caller's (a background job's would be /dev/null) and
 * fd 3 the FIFO; `prewarm` names it for the launcher. Skipped for a root caller, an odd SUDO_UID/SUDO_GID or a
 * missing directory.
 * The ids are dropped by coreutils' chroot (to /, in place): it gives them up before exec, so the kernel sees the
 * user exec an interpreter they may not read and makes it non-dumpable. util-linux's setpriv would not do: it
 * keeps capabilities across the switch until exec, so the kernel lets the interpreter be traced (tested).
 */
function prewarmPrologue(prewarm: {argv: string[]; runDir: string}): string {
  const startup = LAUNCH_ENV.filter((name) => isStartupVariable(name))
    .map((name) => `\${${name}+"${name}=$${name}"}`)
    .join(' ')
  return [
    'prewarm=',
    'case "$SUDO_UID:$SUDO_GID" in',
    '*[!0-9:]* | :* | *: | 0:* | *:*:*) ;;',
    '*)',
    `  runs=${shQuote(prewarm.runDir)}/"$SUDO_UID"/runs`,
    '  if [ "$1" = aws ] && [ -x /usr/sbin/chroot ] && [ -d "$runs" ] && /usr/bin/mkfifo -m 600 "$runs/prewarm-$$" 2>/dev/null; then',
    '    exec 9<&0',
    `    (shift; exec /usr/bin/env -i PATH=${STARTUP_PATH} ${startup} /usr/sbin/chroot --skip-chdir --userspec="$SUDO_UID:$SUDO_GID" --groups="$SUDO_GID" / ${prewarm.argv.map((arg) => shQuote(arg)).join(' ')} "$@") 3<>"$runs/prewarm-$$" 0<&9 9<&- &`,
    '    prewarm="AV_PREWARM=$!:$runs/prewarm-$$"',
    '    exec 9<&-',
    '  fi',
    '  ;;',
    'esac',
    '',
  ].join('\n')
}

/** Refuse under a tracer by name (sudo would only say it cannot become root); shell builtins only. */
function tracerCheck(indent: string): string {
  return [
    'while read -r key value; do',
    '  if [ "$key" = TracerPid: ]; then',
    '    [ "$value" = 0 ] || { echo "av: refused (traced): this aws run is being traced (tracer $value); run it without strace/gdb" >&2; exit 126; }',
    '    break',
    '  fi',
    'done < /proc/self/status',
    '',
  ]
    .map((line) => (line ? indent + line : line))
    .join('\n')
}

/**
 * The `aws` shim in custody mode: refuse under a tracer by name, then hand the argv to the root launcher through
 * `sudo -n`. Only shell builtins run before sudo.
 */
export function custodyShimText(launch: string): string {
  return SHIM_HEADER + tracerCheck('') + `exec /usr/bin/sudo -n ${shQuote(launch)} aws "$@"\n`
}

/** The `av` shim's test for `av run -- aws …`. */
const RUN_AWS = '[ "$1" = run ] && [ "$2" = -- ] && [ "$3" = aws ]'

/**
 * The `av` shim. `av run -- aws …` takes the `aws` shim's path: in custody mode exactly (no Node on the user's
 * side, ~100 ms less a call); in keychain mode the launcher's CommonJS entry without NODE_EXTRA_CA_CERTS (see
 * shimText). Anything else, and in custody `av run` through sudo (which av refuses by name), goes to av itself.
 */
export function avShimText(node: string, entry: string, run: {custodyLaunch: string} | {runEntry: string}): string {
  if ('runEntry' in run) {
    return (
      SHIM_HEADER +
      `if ${RUN_AWS}; then\n` +
      `  ${execLine(node, run.runEntry, [], ['NODE_EXTRA_CA_CERTS'])}\n` +
      'fi\n' +
      `${execLine(node, entry, [])}\n`
    )
  }

  return (
    SHIM_HEADER +
    `if ${RUN_AWS} && [ -z "\${SUDO_USER+x}" ]; then\n` +
    '  shift 3\n' +
    tracerCheck('  ') +
    `  exec /usr/bin/sudo -n ${shQuote(run.custodyLaunch)} aws "$@"\n` +
    'fi\n' +
    `${execLine(node, entry, [])}\n`
  )
}
