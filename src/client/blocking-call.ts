/**
 * Cancellation of a blocking call that may not have been issued yet.
 *
 * A cancel (CancelIoEx, cdfsim_cancel) only completes I/O that has already reached the driver;
 * a call still on its way to the worker thread would miss it and block. So the cancel is fired
 * at once and then every `periodMs` milliseconds until the call settles.
 */
export class CancelRetry {
  private timer: NodeJS.Timeout | undefined;

  /**
   * @param fire      issues one cancel (must be cheap and safe to repeat)
   * @param settled   true once the call has completed (stops the retries)
   * @param periodMs  retry period in ms
   */
  constructor(
    private readonly fire: () => void,
    private readonly settled: () => boolean,
    private readonly periodMs: number,
  ) {}

  start(): void {
    this.fire();
    this.timer ??= setInterval(() => {
      if (this.settled()) this.stop();
      else this.fire();
    }, this.periodMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
