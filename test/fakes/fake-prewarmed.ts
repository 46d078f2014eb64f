import {prewarmArgv, type Prewarmed} from '../../src/lib/run/prewarm.js'
import {FakeChild} from './fake-child.js'

/**
 * A waiting interpreter (run/prewarm.ts) for `runtime`, as the launcher holds it: the lines it is sent, and a child
 * that exits 4 right after the hand-off (or that the test ends itself).
 */
export function fakePrewarmed(runtime: string[], ids: {gid: number; uid: number}) {
  const child = Object.assign(new FakeChild(), {pid: 60})
  const sent: string[] = []
  const prewarmed: Prewarmed = {
    argv: prewarmArgv(runtime)!,
    child,
    ...ids,
    runtime,
    send(line) {
      sent.push(line)
      setImmediate(() => child.exit(4))
    },
  }
  return {child, prewarmed, sent}
}
