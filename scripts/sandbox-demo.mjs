#!/usr/bin/env node
// `av migrate` and `av restore` in a sandbox: a temporary HOME with canary AWS keys, its own D-Bus session and
// gnome-keyring. Shows the files before and after, where the keys went, and that restore is byte-identical.
// Touches nothing outside the temp dir. Needs `npm run build`, dbus-run-session, gnome-keyring, secret-tool.
import {spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

const bin = fileURLToPath(new URL('../bin/run.js', import.meta.url))
const home = mkdtempSync(path.join(tmpdir(), 'av-migrate-demo-'))
mkdirSync(path.join(home, '.aws'), {mode: 0o700})
writeFileSync(
  path.join(home, '.aws', 'credentials'),
  '# canary keys, not real ones\n[default]\naws_access_key_id = AKIAAVCANARY00000001\naws_secret_access_key = avCanarySecret/demo0001\n\n[dev]\naws_access_key_id = AKIAAVCANARY00000002\naws_secret_access_key = avCanarySecret/demo0002\nregion = eu-west-1\n',
  {mode: 0o600},
)
writeFileSync(path.join(home, '.aws', 'config'), '[default]\nregion = us-east-1\noutput = json\n', {mode: 0o600})

const script = `
set -e
printf %s demo | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1
for i in $(seq 40); do dbus-send --session --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q true && break; sleep 0.05; done
av() { node "${bin}" "$@" 2>&1; }
cd "$HOME/.aws"
echo "== before: ~/.aws/credentials and ~/.aws/config"; cat credentials; echo; cat config
sha256sum credentials config > "$HOME/before.sha256"
echo; echo "== av migrate --yes"; av migrate --yes
echo; echo "== after: ~/.aws/credentials"; cat credentials
echo; echo "== after: ~/.aws/config"; cat config
echo; echo "== canary secrets left in ~/.aws: $(grep -rc avCanarySecret . | awk -F: '{s+=$2} END {print s+0}')"
echo "== the OS keychain holds (key ids only):"
for p in default dev; do printf '   aws:%s -> ' $p; secret-tool lookup service av username aws:$p | sed 's/.*"accessKeyId":"\\([^"]*\\)".*/\\1/'; echo; done
echo; echo "== av status"; av status
echo; echo "== av restore --yes"; av restore --yes
echo; echo "== byte-identical to before?"; sha256sum -c "$HOME/before.sha256"
`
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(AWS_|DBUS_|XDG_)/.test(k)))
const result = spawnSync('dbus-run-session', ['--', 'sh', '-c', script], {
  env: {...env, HOME: home},
  stdio: ['ignore', 'inherit', 'pipe'],
})
const stderr = result.stderr.toString().replaceAll(/^dbus-daemon\[\d+].*\n/gm, '')
process.stderr.write(stderr)
rmSync(home, {force: true, recursive: true})
process.exitCode = result.status ?? 1
