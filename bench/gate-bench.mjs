#!/usr/bin/env node
// Gate speed, in-process: rules-table and command-tree load time, then classify 10,000 argvs (ms per argv).
// Run after `npm run build`: node bench/gate-bench.mjs. Figures are printed with a same-run baseline.
import {performance} from 'node:perf_hooks'

const dist = new URL('../dist/lib/', import.meta.url) // built by `npm run build`
const t0 = performance.now()
const {buildRuleTable} = await import(new URL('gate/rules.js', dist))
const {awsCommandTree} = await import(new URL('gate/aws-commands.js', dist))
const {classifyArgv} = await import(new URL('gate/classify.js', dist))
const {DEFAULT_POLICY} = await import(new URL('core/policy.js', dist))
const tImport = performance.now() - t0

let t = performance.now()
const rules = buildRuleTable()
const tRules = performance.now() - t

t = performance.now()
const tree = awsCommandTree()
tree.command('ssm')
const tTree = performance.now() - t

const lines = [
  's3 ls s3://bucket --recursive',
  'ssm get-parameter --name db --with',
  '--profile prod secretsmanager get-secret-value --secret-id x',
  'sts get-caller-identity',
  'ec2 describe-instances --filters Name=a,Values=b --max-items 5',
  'ssm get-parameter --cli-input-json {"Name":"db","WithDecryption":true}',
  's3 presign s3://b/k --expires-in 60 --debug',
  'kms decrypt --ciphertext-blob fileb://x',
  'configure export-credentials --format env',
  'SSM get-parameter --name db',
].map((l) => ['aws', ...l.split(' ')])
const deps = {env: {HOME: '/nonexistent'}, home: '/nonexistent', policy: DEFAULT_POLICY, rules}
// warm every service the sample touches once
for (const argv of lines) classifyArgv(argv, deps)

const N = 10_000
t = performance.now()
let approve = 0
for (let i = 0; i < N; i++) if (classifyArgv(lines[i % lines.length], deps).decision.decision !== 'allow') approve++
const tClassify = performance.now() - t

// Baseline in the same run: joining and hashing-free splitting of the same argvs.
t = performance.now()
let sink = 0
for (let i = 0; i < N; i++) sink += lines[i % lines.length].join(' ').split(' ').length
const tBase = performance.now() - t

console.log(`modules import:           ${tImport.toFixed(1)} ms`)
console.log(`rules table load:         ${tRules.toFixed(2)} ms (${rules.rules.length} rules)`)
console.log(`command tree load:        ${tTree.toFixed(2)} ms (${tree.names.length} commands, first service parsed)`)
console.log(`classify ${N} argvs:     ${tClassify.toFixed(1)} ms = ${(tClassify / N).toFixed(4)} ms/argv (${approve} held)`)
console.log(`baseline join/split:      ${(tBase / N).toFixed(5)} ms/argv; classify is ${(tClassify / Math.max(tBase, 0.001)).toFixed(0)}x baseline ${sink > 0 ? '' : '!'}`)
