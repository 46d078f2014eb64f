/**
 * How a long lib operation tells its caller what it is doing, step by step. Commands turn this into a listr2
 * list on a terminal or plain lines otherwise; the lib never knows which.
 */
export interface StepReporter {
  /** The steps about to run, in order. */
  begin(titles: string[]): void
  start(index: number): void
  done(index: number): void
  fail(index: number, message: string): void
  /** Called once after the last step (or the failure); resolves when the display is finished. */
  end(): Promise<void>
}

export const silentReporter: StepReporter = {
  begin() {},
  start() {},
  done() {},
  fail() {},
  async end() {},
}
