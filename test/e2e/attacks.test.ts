/**
 * Attacks on a root-installed av by code running as the same user as the victim (the threat model's adversary):
 * each asserts the safe outcome — the exit code, the refusal's reason code, that the endpoint saw no request
 * where none may be sent — and that no canary secret appears in any output or file.
 */
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {readdirSync, readFileSync, rmSync} from 'node:fs'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'

import {type AvWorld, startAvWorld} from './support/av-fixture.js'
import {BAD_TOKENS, HELPER_REFUSED} from './support/bad-tokens.js'
import {AWS_CLI, writePolicy} from './support/install.js'
import {childrenOf, cmdlineOf, isAlive, isListening, parseEnviron, ppidOf} from './support/procfs.js'
import {type SigV4Endpoint, startEndpoint} from './support/sigv4-endpoint.js'
import {type RunResult, sleep} from './support/user-sandbox.js'

/** The AWS CLI's exit code when credential_process fails. */
const CLI_CREDENTIALS_FAILED = 255

describe('attacks by the same user on a root-installed av', () => {
  let world: AvWorld
  let url: string
  let home: string
  let markers: string
  let helper: string[]
  const gcc = spawnSync('gcc', ['--version']).status === 0

  before(async () => {
    world = await startAvWorld({keySuffix: 'ATK1'})
    url = world.endpoint.url
    home = world.sandbox.home
    markers = path.dirname(world.writeUserFile('markers/.keep', '', 0o600))
    spawnSync('chmod', ['0777', markers])
    helper = [process.execPath, world.install.av, 'credential-helper', 'aws', '--profile', 'default']
    // One genuine run first: it creates the token key, so refusals below are about the attacker's token.
    const warm = await world.av(['run', '--', 'aws', 'sts', 'get-caller-identity', '--endpoint-url', url])
    assert.equal(warm.code, 0, warm.stderr)
  })

  after(async () => {
    await world?.stop()
  })

  const markersNow = () => readdirSync(markers).filter((n) => n !== '.keep')
  const clearMarkers = () => {
    for (const m of markersNow()) rmSync(path.join(markers, m), {force: true})
  }

  /** The helper refused: non-zero exit, nothing on stdout, the reason code on stderr, no secret anywhere. */
  function assertRefused(r: RunResult, reason: RegExp, exit?: number) {
    if (exit === undefined) assert.notEqual(r.code, 0, `expected a refusal, got exit 0: ${r.stdout}`)
    else assert.equal(r.code, exit, r.stderr)
    assert.equal(r.stdout, '')
    assert.match(r.stderr, reason)
    world.assertNoLeak({stdout: r.stdout, stderr: r.stderr})
  }

  /** Nothing reached the endpoint since `mark` (signed with any key). */
  function assertNothingSent(mark: number) {
    assert.deepEqual(
      world.since(mark).map((q) => `${q.operation} ${q.accessKeyId}`),
      [],
    )
  }

  /** A run through av worked and was signed with the canary key. */
  function assertGenuineCall(r: RunResult, mark: number) {
    assert.equal(r.code, 0, r.stderr)
    assert.equal(JSON.parse(r.stdout).Account, '123456789012')
    const call = world.since(mark).find((q) => q.operation === 'GetCallerIdentity')
    assert.ok(call, 'GetCallerIdentity reached the endpoint')
    assert.equal(call.verified, true, call.failure ?? '')
    assert.ok(world.canaryKeyIds().has(call.accessKeyId!), `signed with ${call.accessKeyId}, not the canary key`)
    world.assertNoLeak({stdout: r.stdout, stderr: r.stderr})
  }

  /** A user-owned `aws` (like a pyenv or pip --user install) that leaves a marker when it runs. */
  const userAws = () =>
    world.writeUserFile(
      'bin/user-aws',
      `#!/bin/sh\ntouch ${markers}/user-aws-ran\nexec /usr/bin/python3 -I /usr/bin/aws "$@"\n`,
      0o755,
    )

  /** ~/av-farm: links to the installed av, but its own copy of dist with run-main.js that leaves a marker. */
  async function buildFarm(): Promise<string> {
    const p = world.install.tree
    const farm = await world.sandbox.sh(
      `set -e; f="$HOME/av-farm"; rm -rf "$f"; mkdir -p "$f/bin"; ln -s ${p}/bin/run.js "$f/bin/run.js"; ` +
        `cp -r ${p}/dist "$f/dist"; ln -s ${p}/node_modules "$f/node_modules"; cp ${p}/package.json "$f/"; ` +
        `printf '\\n;(await import("node:fs")).writeFileSync("${markers}/farm-" + process.pid, "injected")\\n' >> "$f/dist/lib/main/run-main.js"`,
    )
    assert.equal(farm.code, 0, farm.stderr)
    return `${home}/av-farm/bin/run.js`
  }

  const farmInjected = () => markersNow().some((m) => m.startsWith('farm-'))

  const avRun = (args: string[], env: Record<string, string> = {}) =>
    world.av(['run', '--', 'aws', ...args, '--endpoint-url', url], {env})

  describe('the credential helper called without a genuine run', () => {
    it('refuses a direct call with no token (token-missing)', async () => {
      const r = await world.sandbox.run(helper)
      assertRefused(r, /token-missing/)
      assert.match(r.stderr, /av run -- /)
    })

    for (const [name, token, reason] of BAD_TOKENS) {
      it(`refuses ${name}`, async () => {
        const r = await world.sandbox.run(helper, {env: {AV_RUN_TOKEN: token}})
        assertRefused(r, reason)
        assert.equal(r.code, HELPER_REFUSED)
      })
    }

    it('refuses a well-formed token minted with a guessed key', async () => {
      const script = `
        import {randomBytes} from 'node:crypto'
        import {hashArgv, mintToken} from ${JSON.stringify(path.join(world.install.tree, 'dist', 'lib', 'run', 'token.js'))}
        const now = Date.now()
        process.stdout.write(mintToken(randomBytes(32), {v: 1, launcherPid: process.ppid, launcherStart: '1',
          profile: 'default', argvHash: hashArgv(['x']), configHash: '0'.repeat(64), issued: now, expires: now + 600000}))
      `
      const minted = await world.sandbox.run([process.execPath, '--input-type=module', '-e', script])
      assert.equal(minted.code, 0, minted.stderr)
      const r = await world.sandbox.run(helper, {env: {AV_RUN_TOKEN: minted.stdout}})
      // The helper checks the process chain before it reads the token key, so the impostor chain may fail first.
      assertRefused(r, /token-bad-signature|parent-not-runtime/)
    })

    it('refuses the plain AWS CLI run outside av with the migrated config (and nothing is sent)', async () => {
      const mark = world.endpoint.requests.length
      const r = await world.sandbox.run([...AWS_CLI, 'sts', 'get-caller-identity', '--endpoint-url', url])
      assertRefused(r, /token-missing/, CLI_CREDENTIALS_FAILED)
      assertNothingSent(mark)
    })
  })

  // eslint-disable-next-line mocha/handle-done-callback -- node:test's TestContext, not a done callback
  it('a token stolen from a live run is worthless to any other process, during and after the run', async (t) => {
    const mark = world.endpoint.requests.length
    world.endpoint.hold()
    const run = world.sandbox.spawn(
      [process.execPath, world.install.av, 'run', '--', 'aws', 'sts', 'get-caller-identity', '--endpoint-url', url],
      {env: world.install.env},
    )
    let stolenEnv: Record<string, string> = {}
    let cliArgv: string[] = []
    try {
      await world.endpoint.waitForRequest((q) => world.endpoint.requests.indexOf(q) >= mark)
      const cli = childrenOf(run.pid).find((pid) => cmdlineOf(pid).includes('/usr/bin/aws'))
      assert.ok(cli, 'the launcher has an AWS CLI child while the request is held')
      cliArgv = cmdlineOf(cli)
      // The attacker (same uid) reads the live CLI's environment, token included.
      const read = await world.sandbox.run(['cat', `/proc/${cli}/environ`])
      assert.equal(read.code, 0, `the same user can read /proc/${cli}/environ: ${read.stderr}`)
      stolenEnv = parseEnviron(read.stdout)
      const token = stolenEnv.AV_RUN_TOKEN
      assert.ok(token, 'the CLI carries AV_RUN_TOKEN')
      world.assertNoLeak({environ: read.stdout})
      // ...and keeps a copy of the generated config it names (same bytes, so the config hash still matches).
      const keep = await world.sandbox.run(['cp', stolenEnv.AWS_CONFIG_FILE ?? '/nonexistent', `${home}/stolen-config`])
      assert.equal(keep.code, 0, keep.stderr)
      const attacksMark = world.endpoint.requests.length

      await t.test('the helper run from a shell with the stolen token: parent-not-runtime', async () => {
        const r = await world.sandbox.run(['/bin/sh', '-c', '"$@"; exit $?', 'sh', ...helper], {
          env: {AV_RUN_TOKEN: token},
        })
        assertRefused(r, /parent-not-runtime/)
      })

      await t.test(
        'a second AWS CLI with the whole stolen environment and argv: not started by the launcher',
        async () => {
          const r = await world.sandbox.run(['/bin/sh', '-c', '"$@"; exit $?', 'sh', ...cliArgv], {
            cleanEnv: true,
            env: stolenEnv,
          })
          // Its grandparent is the attacker's shell: not this run's launcher, and not Node.js at all.
          assertRefused(r, /grandparent-not-launcher|launcher-untrusted/, CLI_CREDENTIALS_FAILED)
        },
      )

      await t.test('the genuine runtime under `exec -a aws` (spoofed argv[0]): argv-mismatch', async () => {
        const r = await world.sandbox.run(['/bin/bash', '-c', '(exec -a aws "$@"); exit $?', 'bash', ...cliArgv], {
          cleanEnv: true,
          env: stolenEnv,
        })
        assertRefused(r, /argv-mismatch/, CLI_CREDENTIALS_FAILED)
      })

      await t.test('a copied interpreter run with the exact argv of the genuine CLI: parent-not-runtime', async () => {
        const copy = await world.sandbox.sh('mkdir -p "$HOME/fake" && cp /usr/bin/python3 "$HOME/fake/python3"')
        assert.equal(copy.code, 0, copy.stderr)
        // eslint-disable-next-line no-template-curly-in-string -- a bash expansion, not a template
        const spoof = '(exec -a "$1" "$HOME/fake/python3" "${@:2}"); exit $?'
        const r = await world.sandbox.run(['/bin/bash', '-c', spoof, 'bash', ...cliArgv], {
          cleanEnv: true,
          env: {...stolenEnv, HOME: home},
        })
        assertRefused(r, /parent-not-runtime/, CLI_CREDENTIALS_FAILED)
      })

      await t.test(
        'a fake parent named `aws` (a copied python in ~/bin) calling the helper: parent-not-runtime',
        async () => {
          const copy = await world.sandbox.sh('mkdir -p "$HOME/bin" && cp /usr/bin/python3 "$HOME/bin/aws"')
          assert.equal(copy.code, 0, copy.stderr)
          const callHelper = 'import subprocess, sys; sys.exit(subprocess.run(sys.argv[1:]).returncode)'
          const r = await world.sandbox.run([`${home}/bin/aws`, '-I', '-c', callHelper, ...helper], {
            env: {AV_RUN_TOKEN: token},
          })
          assertRefused(r, /parent-not-runtime/)
        },
      )

      await t.test('the stolen environment used for `configure export-credentials`: refused, no key', async () => {
        const exportArgv = [...AWS_CLI, 'configure', 'export-credentials', '--format', 'env']
        const r = await world.sandbox.run(['/bin/sh', '-c', '"$@"; exit $?', 'sh', ...exportArgv], {
          cleanEnv: true,
          env: stolenEnv,
        })
        assert.notEqual(r.code, 0, r.stdout)
        assert.ok(!r.stdout.includes(world.key.accessKeyId), 'the access key id was printed')
        assert.match(r.stderr, /argv-mismatch|grandparent-not-launcher|launcher-untrusted/)
        world.assertNoLeak({stdout: r.stdout, stderr: r.stderr})
      })

      await t.test('kill -USR1 of the launcher opens no inspector and does not stop the run', async () => {
        const r = await world.sandbox.run(['kill', '-USR1', String(run.pid)])
        assert.equal(r.code, 0, r.stderr)
        await sleep(500)
        assert.equal(isListening(9229), false, 'something listens on 9229')
        assert.equal(isAlive(run.pid), true)
      })

      assertNothingSent(attacksMark)
    } finally {
      world.endpoint.release()
    }

    const done = await run.result
    assertGenuineCall(done, mark)

    await t.test('the stolen environment replayed after the run ended is refused', async () => {
      const afterMark = world.endpoint.requests.length
      // The run's private HOME is gone: replay with the kept copy of its config.
      const r = await world.sandbox.run(['/bin/sh', '-c', '"$@"; exit $?', 'sh', ...cliArgv], {
        cleanEnv: true,
        env: {...stolenEnv, AWS_CONFIG_FILE: `${home}/stolen-config`, HOME: home},
      })
      assertRefused(
        r,
        /grandparent-not-launcher|launcher-start-mismatch|launcher-untrusted|parent-gone/,
        CLI_CREDENTIALS_FAILED,
      )
      assertNothingSent(afterMark)
    })
  })

  describe('a launcher that is not the root-installed one', () => {
    it("a copy of the installed tree in the user's home: launcher-untrusted, nothing sent", async () => {
      const p = world.install.tree
      const copy = await world.sandbox.sh(
        `mkdir -p "$HOME/av-copy" && cp -r ${p}/bin ${p}/dist ${p}/package.json ${p}/oclif.manifest.json "$HOME/av-copy/" && ln -s ${p}/node_modules "$HOME/av-copy/node_modules"`,
      )
      assert.equal(copy.code, 0, copy.stderr)
      const mark = world.endpoint.requests.length
      const r = await world.sandbox.run(
        [
          process.execPath,
          `${home}/av-copy/bin/run.js`,
          'run',
          '--',
          'aws',
          'sts',
          'get-caller-identity',
          '--endpoint-url',
          url,
        ],
        {env: world.install.env},
      )
      assertRefused(r, /launcher-untrusted/)
      assertNothingSent(mark)
    })

    it('a symlink farm with a replaced module, preserved through NODE_OPTIONS: refused, nothing sent', async () => {
      clearMarkers()
      const entry = await buildFarm()
      const mark = world.endpoint.requests.length
      const r = await world.sandbox.run(
        [process.execPath, entry, 'run', '--', 'aws', 'sts', 'get-caller-identity', '--endpoint-url', url],
        {env: {...world.install.env, NODE_OPTIONS: '--preserve-symlinks --preserve-symlinks-main'}},
      )
      assert.ok(farmInjected(), 'the replaced module ran in the launcher (the attack is real)')
      // The script path runs through a user-owned dir (launcher-untrusted), and NODE_OPTIONS is set (env-unsafe).
      assertRefused(r, /launcher-untrusted|launcher-env-unsafe/)
      assertNothingSent(mark)
    })

    it('a symlink farm run with --preserve-symlinks flags: the injected process only restarts the genuine launcher', async () => {
      clearMarkers()
      const entry = await buildFarm()
      const mark = world.endpoint.requests.length
      world.endpoint.hold()
      const flags = ['--preserve-symlinks', '--preserve-symlinks-main']
      const run = world.sandbox.spawn(
        [process.execPath, ...flags, entry, 'run', '--', 'aws', 'sts', 'get-caller-identity', '--endpoint-url', url],
        {env: world.install.env},
      )
      let launcherArgv: string[] = []
      try {
        await world.endpoint.waitForRequest((q) => world.endpoint.requests.indexOf(q) >= mark)
        const pids = [run.pid, ...childrenOf(run.pid)]
        const cli = pids.flatMap((pid) => childrenOf(pid)).find((pid) => cmdlineOf(pid).includes('/usr/bin/aws'))
        assert.ok(cli, 'an AWS CLI runs under the farm process or its child')
        launcherArgv = cmdlineOf(ppidOf(cli)!)
      } finally {
        world.endpoint.release()
      }

      const r = await run.result
      assert.ok(farmInjected(), 'the replaced module ran (the attack is real)')
      // The CLI that got credentials was started by the root-installed launcher, not by the injected code.
      assert.deepEqual(launcherArgv.slice(0, 3), [process.execPath, world.install.av, 'run'])
      assertGenuineCall(r, mark)
    })
  })

  it('a genuine run under strace (the same user ptraces the chain): traced, nothing sent', async () => {
    assert.equal(spawnSync('strace', ['-V']).status, 0, 'strace is installed (Debian package strace)')
    const mark = world.endpoint.requests.length
    const r = await world.sandbox.run(
      [
        'strace',
        '-f',
        '-o',
        '/dev/null',
        process.execPath,
        world.install.av,
        'run',
        '--',
        'aws',
        'sts',
        'get-caller-identity',
        '--endpoint-url',
        url,
      ],
      {env: world.install.env},
    )
    assertRefused(r, /traced/)
    assertNothingSent(mark)
  })

  describe("steering the launcher through its environment and the user's ~/.aws", () => {
    it('a `ps` first on PATH is never run, and the run works', async () => {
      clearMarkers()
      world.writeUserFile('evil/ps', `#!/bin/sh\ntouch ${markers}/ps-ran\necho "  PID TTY TIME CMD"\n`, 0o755)
      const mark = world.endpoint.requests.length
      const r = await avRun(['sts', 'get-caller-identity'], {PATH: `${home}/evil:/usr/local/bin:/usr/bin:/bin`})
      assertGenuineCall(r, mark)
      assert.deepEqual(markersNow(), [])
    })

    it('AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE and AWS_* keys of the attacker are ignored', async () => {
      clearMarkers()
      const evilConfig = world.writeUserFile(
        'evil/config',
        `[default]\nregion = eu-west-1\ncredential_process = /bin/sh -c "env > ${markers}/config-credential-process; echo {}"\n` +
          `cli_pager = /bin/sh -c "env > ${markers}/config-pager"\nendpoint_url = http://127.0.0.1:9\n` +
          `[plugins]\ncli_legacy_plugin_path = ${home}/evil\nevil = evilplugin\n`,
      )
      world.writeUserFile('evil/evilplugin.py', `open("${markers}/plugin-ran", "w").write("x")\n`)
      const evilCredentials = world.writeUserFile(
        'evil/credentials',
        '[default]\naws_access_key_id = AKIAATTACKERFAKE0000\naws_secret_access_key = attackerOwnSecretKey0000000000000000000\n',
      )
      const mark = world.endpoint.requests.length
      const r = await avRun(['sts', 'get-caller-identity'], {
        AWS_ACCESS_KEY_ID: 'AKIAATTACKERFAKE0001',
        AWS_CONFIG_FILE: evilConfig,
        AWS_SECRET_ACCESS_KEY: 'attackerOwnSecretKey0000000000000000001',
        AWS_SHARED_CREDENTIALS_FILE: evilCredentials,
        AWS_PAGER: `/bin/sh -c "env > ${markers}/env-pager"`,
      })
      assertGenuineCall(r, mark)
      assert.deepEqual(markersNow(), [])
    })

    it('a HOME override with its own ~/.aws is ignored for credentials and code', async () => {
      clearMarkers()
      world.writeUserFile(
        'fakehome/.aws/config',
        `[default]\nregion = eu-west-1\ncredential_process = /bin/sh -c "env > ${markers}/fakehome-cp; echo {}"\n`,
      )
      world.writeUserFile('fakehome/.aws/cli/alias', `[toplevel]\nsts = !f() { env > ${markers}/fakehome-alias; }; f\n`)
      const mark = world.endpoint.requests.length
      const r = await avRun(['sts', 'get-caller-identity'], {HOME: `${home}/fakehome`})
      assertGenuineCall(r, mark)
      assert.deepEqual(markersNow(), [])
    })

    it('a `!` alias in ~/.aws/cli/alias shadowing `sts` never runs; the real command does', async () => {
      clearMarkers()
      const alias = world.writeUserFile('.aws/cli/alias', `[toplevel]\nsts = !f() { env > ${markers}/alias-ran; }; f\n`)
      try {
        const mark = world.endpoint.requests.length
        const r = await avRun(['sts', 'get-caller-identity'])
        assertGenuineCall(r, mark)
        assert.deepEqual(markersNow(), [])
        assert.match(r.stderr, /alias/i, 'av says once that the user has aliases it does not use')
      } finally {
        rmSync(alias, {force: true})
      }
    })

    it('a custom model in ~/.aws/models (STS renamed `harmless`) is not loaded: nothing is sent', async () => {
      const model = JSON.parse(
        readFileSync('/usr/lib/python3/dist-packages/awscli/botocore/data/sts/2011-06-15/service-2.json', 'utf8'),
      ) as {metadata: Record<string, string>}
      model.metadata.serviceId = 'harmless'
      const file = world.writeUserFile('.aws/models/harmless/2011-06-15/service-2.json', JSON.stringify(model))
      try {
        const mark = world.endpoint.requests.length
        const r = await avRun(['harmless', 'get-session-token'])
        assert.notEqual(r.code, 0, r.stdout)
        assertNothingSent(mark)
        world.assertNoLeak({stdout: r.stdout, stderr: r.stderr})
      } finally {
        rmSync(path.dirname(path.dirname(path.dirname(file))), {force: true, recursive: true})
      }
    })

    const launchers: Array<[string, (env: Record<string, string>) => Promise<RunResult>]> = [
      ['av run', (env) => avRun(['sts', 'get-caller-identity'], env)],
      ['the aws launcher', (env) => world.aws(['sts', 'get-caller-identity', '--endpoint-url', url], {env})],
    ]
    for (const [name, launch] of launchers) {
      it(`NODE_OPTIONS=--require on ${name}: launcher-env-unsafe, and the module never runs in the helper`, async () => {
        clearMarkers()
        const evil = world.writeUserFile(
          'evil/evil.cjs',
          `require('node:fs').writeFileSync('${markers}/node-options-' + process.pid, JSON.stringify(process.argv))\n`,
        )
        const mark = world.endpoint.requests.length
        const r = await launch({NODE_OPTIONS: `--require ${evil}`})
        assertRefused(r, /launcher-env-unsafe/)
        assertNothingSent(mark)
        for (const m of markersNow()) {
          assert.ok(
            !readFileSync(path.join(markers, m), 'utf8').includes('credential-helper'),
            'evil code ran in the helper',
          )
        }
      })
    }

    it('LD_PRELOAD on the launcher: launcher-env-unsafe, and the library never loads into the AWS CLI or the helper', async () => {
      assert.ok(gcc, 'gcc builds the preload library (Debian package gcc)')
      clearMarkers()
      const source = world.writeUserFile(
        'evil/preload.c',
        `#include <stdio.h>\n#include <unistd.h>\n#include <fcntl.h>\n` +
          `__attribute__((constructor)) static void evil(void) {\n` +
          `  char path[512], args[4096]; snprintf(path, sizeof path, "${markers}/preload-%d", getpid());\n` +
          `  int in = open("/proc/self/cmdline", O_RDONLY); ssize_t n = in < 0 ? 0 : read(in, args, sizeof args); if (in >= 0) close(in);\n` +
          `  int out = open(path, O_WRONLY | O_CREAT, 0644); if (out >= 0) { if (n > 0) write(out, args, n); close(out); }\n}\n`,
      )
      const lib = path.join(path.dirname(source), 'libevil.so')
      const built = spawnSync('gcc', ['-shared', '-fPIC', '-o', lib, source], {encoding: 'utf8'})
      assert.equal(built.status, 0, built.stderr)
      spawnSync('chmod', ['0755', lib])
      const mark = world.endpoint.requests.length
      const r = await avRun(['sts', 'get-caller-identity'], {LD_PRELOAD: lib})
      assertRefused(r, /launcher-env-unsafe/)
      assertNothingSent(mark)
      const loadedInto = markersNow().map((m) => readFileSync(path.join(markers, m), 'latin1').split('\0').join(' '))
      assert.ok(loadedInto.length > 0, 'the library loaded into the launcher (the attack is real)')
      for (const args of loadedInto) {
        assert.ok(!args.includes('/usr/bin/aws') && !args.includes('credential-helper'), `loaded into: ${args}`)
      }
    })

    it('PYTHONPATH on the launcher never reaches the AWS CLI (sitecustomize does not run) and the run works', async () => {
      clearMarkers()
      world.writeUserFile('evilpy/sitecustomize.py', `open("${markers}/pythonpath-ran", "w").write("x")\n`)
      const mark = world.endpoint.requests.length
      const r = await avRun(['sts', 'get-caller-identity'], {
        PYTHONPATH: `${home}/evilpy`,
        PYTHONSTARTUP: `${home}/evilpy/sitecustomize.py`,
      })
      assertGenuineCall(r, mark)
      assert.deepEqual(markersNow(), [])
    })
  })

  describe('sending signed requests somewhere the root policy does not allow', () => {
    let elsewhere: SigV4Endpoint

    before(async () => {
      // The attacker's own server on another loopback address: it would verify the canary key's signature.
      elsewhere = await startEndpoint({credentials: [world.key], host: '127.0.0.2'})
    })

    after(async () => {
      await elsewhere?.stop()
    })

    const cases: Array<[string, () => string[]]> = [
      ['--endpoint-url naming an address outside the policy', () => ['--endpoint-url', elsewhere.url]],
      // With the interim gate wired in run-main.ts, `--endpoint` is not read as --endpoint-url (argparse prefix).
      ['--endpoint (an argparse prefix of --endpoint-url)', () => ['--endpoint', elsewhere.url]],
      // The policy pattern http://127.0.0.1:* is matched as a string, so userinfo makes 127.0.0.2 look allowed
      // (both gate/interim.ts matchesPattern and the gate branch's endpointAllowed).
      [
        '--endpoint-url with userinfo that makes it look allowed (http://127.0.0.1:1@127.0.0.2:PORT)',
        () => ['--endpoint-url', `http://127.0.0.1:1@127.0.0.2:${elsewhere.port}`],
      ],
    ]
    for (const [name, args] of cases) {
      it(`${name}: refused before the AWS CLI runs (126), the other endpoint sees nothing`, async () => {
        elsewhere.clear()
        const r = await world.av(['run', '--', 'aws', 'sts', 'get-caller-identity', ...args()])
        assert.deepEqual(
          elsewhere.requests.map((q) => `${q.operation} ${q.accessKeyId}`),
          [],
        )
        assert.equal(r.code, 126, r.stderr)
        world.assertNoLeak({stdout: r.stdout, stderr: r.stderr})
      })
    }

    it('configure export-credentials is refused by the gate (126) and prints no key', async () => {
      const r = await avRun(['configure', 'export-credentials', '--format', 'env'])
      assert.equal(r.code, 126, r.stderr)
      assert.ok(!r.stdout.includes(world.key.accessKeyId))
      world.assertNoLeak({stdout: r.stdout, stderr: r.stderr})
    })
  })

  describe('the AWS CLI runtime must be root-controlled', () => {
    it("a user-writable policy naming the user's own aws is ignored whole (and its endpoint allowance with it)", async () => {
      clearMarkers()
      const policy = world.writeUserFile(
        'policy.json',
        JSON.stringify({awsCli: [userAws()], endpoints: ['http://127.0.0.1:*']}),
        0o644,
      )
      const mark = world.endpoint.requests.length
      const r = await world.av(['run', '--', 'aws', 'sts', 'get-caller-identity', '--endpoint-url', url], {
        env: {AV_POLICY: policy},
      })
      assert.notEqual(r.code, 0, r.stdout)
      assert.match(r.stderr, /ignoring policy/)
      assert.deepEqual(markersNow(), [])
      assertNothingSent(mark)
      world.assertNoLeak({stdout: r.stdout, stderr: r.stderr})
    })

    it('a root-owned policy naming a user-writable aws is refused as runtime (126), the user aws never runs', async () => {
      clearMarkers()
      writePolicy(world.install, {awsCli: [userAws()], sts: {endpoint: url}})
      try {
        const mark = world.endpoint.requests.length
        const r = await avRun(['sts', 'get-caller-identity'])
        assert.equal(r.code, 126, r.stderr)
        assert.match(r.stderr, /not root-controlled/)
        assert.deepEqual(markersNow(), [])
        assertNothingSent(mark)
      } finally {
        writePolicy(world.install, {sts: {endpoint: url}})
      }
    })
  })

  it('left no canary secret in any file of the sandbox or the install', () => {
    world.assertNoLeak({})
  })
})
