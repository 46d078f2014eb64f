/** The real world for migrate, restore and status, built from a Context. */
import path from 'node:path'

import type {Context} from './context.js'
import type {MigrateDeps} from './migrate.js'

import {awsFilePaths, realAwsFileSystem} from './aws-files.js'
import {stateDir} from './paths.js'
import {silentReporter} from './progress.js'
import {askYesNo, lineReporter, listrReporter} from './step-display.js'

export const LOCK_FILE = 'migrate.lock'

/** `json`: no progress output (stdout carries the JSON document). */
export function migrationDeps(ctx: Context, options: {json: boolean}): MigrateDeps {
  let report = silentReporter
  if (!options.json) report = process.stdout.isTTY ? listrReporter() : lineReporter(ctx.stderr)
  return {
    audit: ctx.audit,
    confirm: askYesNo,
    fs: realAwsFileSystem,
    interactive: ctx.interactive,
    lockFile: path.join(stateDir(ctx), LOCK_FILE),
    paths: awsFilePaths(ctx),
    report,
    store: ctx.store,
  }
}
