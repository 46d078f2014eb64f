#!/usr/bin/env node
// A SIGUSR1 listener stops Node from opening its inspector on SIGUSR1 (a same-user process could otherwise run code
// inside the launcher or the helper). Installed first, before any import; run-main.ts installs it again.
process.on('SIGUSR1', () => {})
// The credential helper is called by the AWS CLI on every run and must start fast: it never loads oclif.
if (process.argv[2] === 'credential-helper' && process.argv[3] === 'aws') {
  // Built by `npm run build`; a URL so lint does not depend on whether dist/ exists yet.
  const {main} = await import(new URL('../dist/lib/main/helper-main.js', import.meta.url).href)
  process.exitCode = await main(process.argv.slice(4))
} else if (process.argv[2] === 'run') {
  // `av run` splits its own argv at `--` (oclif would reorder repeated tokens) and must not pay for oclif either.
  // Built by `npm run build`; a URL so lint does not depend on whether dist/ exists yet.
  const {main} = await import(new URL('../dist/lib/main/run-main.js', import.meta.url).href)
  process.exitCode = await main(process.argv.slice(3))
} else {
  const {execute} = await import('@oclif/core')
  await execute({dir: import.meta.url})
}
