#!/usr/bin/env node
// Runs every benchmark in bench/ one after the other. Each prints medians and ratios to a baseline it measures
// in the same run (this machine's NODE_EXTRA_CA_CERTS alone adds ~50 ms to every Node start).
// `node bench/run-all.mjs modes` runs only modes-bench.mjs (plain aws vs keychain vs custody; root only, skipped
// otherwise); AV_BENCH_RUNS sets the runs of the benches that read it.
import {spawnSync} from 'node:child_process'
import {readdirSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const only = process.argv.slice(2)
const benches = readdirSync(here)
  .filter((f) => /-bench\.(mjs|ts)$/.test(f))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort()

let failed = 0
for (const file of benches) {
  console.log(`\n## ${file}`)
  // Some benches reuse the TypeScript test support (endpoint, sandbox): load every one through tsx.
  const args = ['--import', 'tsx', path.join(here, file)]
  const result = spawnSync(process.execPath, args, {stdio: 'inherit'})
  if (result.status !== 0) failed++
}

process.exitCode = failed === 0 ? 0 : 1
