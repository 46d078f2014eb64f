import type {AwsFileSnapshot, AwsFileSystem} from '../../src/lib/aws/aws-files.js'

/** In-memory AWS files. `failWrite` makes the nth write (1-based) of a path fail like a full disk. */
export class MemoryFs implements AwsFileSystem {
  readonly files = new Map<string, Buffer>()
  failWrite?: {count: number; path: string}
  writes: string[] = []

  constructor(files: Record<string, Buffer | string> = {}) {
    for (const [p, b] of Object.entries(files)) this.files.set(p, Buffer.from(b))
  }

  async read(file: string, kind: 'config' | 'credentials') {
    const bytes = this.files.get(file)
    return bytes === undefined
      ? {path: file, kind, bytes: null}
      : {path: file, kind, bytes: Buffer.from(bytes), mode: 0o600}
  }

  async remove(file: string): Promise<void> {
    this.files.delete(file)
  }

  async write(file: string, bytes: Buffer, _like?: AwsFileSnapshot): Promise<void> {
    this.writes.push(file)
    const n = this.writes.filter((w) => w === file).length
    if (this.failWrite && this.failWrite.path === file && this.failWrite.count === n) {
      throw Object.assign(new Error(`ENOSPC: no space left on device, write '${file}'`), {code: 'ENOSPC'})
    }

    this.files.set(file, Buffer.from(bytes))
  }
}
