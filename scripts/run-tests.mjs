#!/usr/bin/env node
// Runs the test tiers with node's test runner (TypeScript through tsx). Usage: run-tests.mjs [tier...]
// Tiers: unit, commands, e2e (default: all three, in that order). e2e needs root, dbus, gnome-keyring, awscli.
import {spawnSync} from 'node:child_process'
import {readdirSync, statSync} from 'node:fs'
import path from 'node:path'

const tiers = process.argv.length > 2 ? process.argv.slice(2) : ['unit', 'commands', 'e2e']

function find(dir) {
  let out = []
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name)
    if (statSync(p).isDirectory()) out = [...out, ...find(p)]
    else if (name.endsWith('.test.ts')) out.push(p)
  }

  return out.sort()
}

const files = tiers.flatMap((tier) => find(path.join('test', tier)))
if (files.length === 0) {
  throw new Error(`no test files in ${tiers.join(', ')}`)
}

// e2e files share machine-wide fixtures (an unprivileged user, a root-owned install): run files one at a time.
const concurrency = tiers.includes('e2e') ? '1' : '2'
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  {stdio: 'inherit'},
)
process.exitCode = result.status ?? 1
