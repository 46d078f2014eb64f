/** Where av keeps user state, by platform and XDG convention. Every path follows HOME / XDG_* for tests. */
import path from 'node:path'

export interface PathEnv {
  env: NodeJS.ProcessEnv
  home: string
  platform: NodeJS.Platform
}

export function awsCredentialsFile({env, home}: PathEnv): string {
  return env.AWS_SHARED_CREDENTIALS_FILE || path.join(home, '.aws', 'credentials')
}

export function awsConfigFile({env, home}: PathEnv): string {
  return env.AWS_CONFIG_FILE || path.join(home, '.aws', 'config')
}

/** Audit log and other state: ~/.local/state/av on Linux, ~/Library/Logs/av on macOS. */
export function stateDir({env, home, platform}: PathEnv): string {
  if (platform === 'darwin') return path.join(home, 'Library', 'Logs', 'av')
  return path.join(env.XDG_STATE_HOME || path.join(home, '.local', 'state'), 'av')
}

/** The user's own av settings (may only tighten): ~/.config/av/config.json. */
export function userConfigFile({env, home}: PathEnv): string {
  return path.join(env.XDG_CONFIG_HOME || path.join(home, '.config'), 'av', 'config.json')
}

/** Where `av run` makes its private per-run HOME: XDG_RUNTIME_DIR when it is ours, else the OS temp dir. */
export function runtimeDir({env}: PathEnv, tmpdir: string): string {
  return env.XDG_RUNTIME_DIR || tmpdir
}
