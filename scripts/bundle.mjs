#!/usr/bin/env node
// Bundle each entry point av starts as a process of its own (the launcher, the credential helper, the root launcher,
// the custody entry point) into one file, in place of tsc's output: Node then reads one file instead of resolving
// and loading some sixty modules on every `aws` call. Packages stay external (loaded from node_modules when used,
// which for the AWS SDK is only when STS is called), and the bundle keeps its path, so every reference to it (the
// install's entry scripts, bin/run.js, the caller check) and its own relative URLs stay as they were.
// Run by `npm run build` after tsc; it also copies the data files tsc leaves out.
import {build} from 'esbuild'
import {copyFileSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const ENTRY_POINTS = ['run-main', 'helper-main', 'root-launch-main', 'custody-main']

for (const name of ENTRY_POINTS) {
  const file = path.join(root, 'dist', 'lib', 'main', `${name}.js`)
  // eslint-disable-next-line no-await-in-loop -- four small builds, one after another
  await build({
    allowOverwrite: true,
    bundle: true,
    entryPoints: [file],
    format: 'esm',
    logLevel: 'warning',
    outfile: file,
    packages: 'external',
    platform: 'node',
    target: 'node20',
  })
}

// The root launcher runs on every custody `aws` call, keychain mode's launcher and helper on every keychain call, so
// they also get CommonJS builds: Node 20 starts a CommonJS entry ~10-20 ms sooner than an ES module (no ESM loader). The install's entry script runs root-launch.cjs, a small
// entry that starts the CLI's interpreter first (run/prewarm.ts) and then requires root-launch-main.cjs. In
// CommonJS there is no import.meta.url (each bundle gets its own file's URL in its place) and the SDK's packages,
// loaded only when STS is called, are required rather than imported.
for (const [source, out] of [
  ['root-launch-main.js', 'root-launch-main.cjs'],
  ['root-launch.js', 'root-launch.cjs'],
  // Keychain mode's launcher (the installed shims start it) and credential helper (the sealed config names it).
  ['run-entry.js', 'run-entry.cjs'],
  ['helper-entry.js', 'helper-entry.cjs'],
]) {
  const dir = path.join(root, 'dist', 'lib', 'main')
  // eslint-disable-next-line no-await-in-loop -- small builds, one after another
  await build({
    banner: {js: 'var __bundle_url = require("node:url").pathToFileURL(__filename).href;'},
    bundle: true,
    define: {'import.meta.url': '__bundle_url'},
    entryPoints: [path.join(dir, source)],
    format: 'cjs',
    logLevel: 'warning',
    outfile: path.join(dir, out),
    packages: 'external',
    platform: 'node',
    supported: {'dynamic-import': false},
    target: 'node20',
  })
}

// Data files tsc does not copy: the AWS CLI's command tree, read by the gate (gate/aws-commands.ts), and its index
// (where each command's line is), so that a gate reads a few kB instead of the whole 1.3 MB on every call.
const dataFile = path.join(root, 'dist', 'lib', 'gate', 'aws-commands.data')
copyFileSync(path.join(root, 'src', 'lib', 'gate', 'aws-commands.data'), dataFile)
const {indexCommandData} = await import(path.join(root, 'dist', 'lib', 'gate', 'aws-commands.js'))
writeFileSync(
  path.join(root, 'dist', 'lib', 'gate', 'aws-commands.index.json'),
  JSON.stringify(indexCommandData(readFileSync(dataFile))),
)
