import type {
  AssumeRoleInput,
  GetSessionTokenInput,
  StsApi,
  StsTarget,
  TemporaryCredentials,
} from '../../src/lib/aws/sts-client.js'
import type {Clock} from '../../src/lib/core/clock.js'

export interface StsCall {
  action: 'AssumeRole' | 'GetSessionToken'
  input: AssumeRoleInput | GetSessionTokenInput
  target: StsTarget
}

/** A fake STS that records every call and answers with numbered session canaries valid for the asked duration. */
export class FakeSts implements StsApi {
  readonly calls: StsCall[] = []
  /** When set, the next calls throw this (an SDK-shaped error: {name, message}). */
  failWith?: Error

  constructor(private readonly clock: Clock) {}

  async assumeRole(target: StsTarget, input: AssumeRoleInput): Promise<TemporaryCredentials> {
    return this.answer('AssumeRole', target, input)
  }

  async getSessionToken(target: StsTarget, input: GetSessionTokenInput): Promise<TemporaryCredentials> {
    return this.answer('GetSessionToken', target, input)
  }

  private answer(
    action: StsCall['action'],
    target: StsTarget,
    input: AssumeRoleInput | GetSessionTokenInput,
  ): TemporaryCredentials {
    this.calls.push({action, input, target})
    if (this.failWith) throw this.failWith
    const n = String(this.calls.length).padStart(4, '0')
    return {
      accessKeyId: `ASIAAVCANARYSESS${n}`,
      expiration: this.clock.now() + input.durationSeconds * 1000,
      secretAccessKey: `avCanarySessionSecret/${action}/${n}`,
      sessionToken: `avCanarySessionToken/${action}/${n}`,
    }
  }
}

export class FakeClock implements Clock {
  constructor(public ms: number) {}

  advance(ms: number): void {
    this.ms += ms
  }

  now(): number {
    return this.ms
  }
}

export function sdkError(name: string, message = `${name} from STS`, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), {name, ...extra})
}
