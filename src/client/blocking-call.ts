/**
 * The one blocking call a device handle may have in flight (a parked WaitTrace, a drive IOCTL or
 * read waiting on the hardware), with its cancellation and the drain a close needs.
 *
 * A cancel (CancelIoEx, cdfsim_cancel) only completes I/O that has already reached the driver;
 * a call still on its way to the worker thread would miss it and block. So `cancel()` fires at
 * once and then every `periodMs` milliseconds until the call settles.
 */
export class BlockingCall {
  private current: Promise<unknown> | undefined;
  private timer: NodeJS.Timeout | undefined;

  /**
   * @param fire      issues one cancel (must be cheap and safe to repeat)
   * @param periodMs  retry period in ms
   */
  constructor(
    private readonly fire: () => void,
    private readonly periodMs: number,
  ) {}

  /** A call is in flight (close must drain it before the handle goes). */
  get busy(): boolean {
    return this.current !== undefined;
  }

  /** Track `call` as the handle's call in flight until it settles; resolves or rejects as it does. */
  async run<T>(call: Promise<T>): Promise<T> {
    this.current = call;
    try {
      return await call;
    } finally {
      if (this.current === call) this.current = undefined;
      this.stopRetries();
    }
  }

  /** Cancel the call in flight, if any, retrying until it settles. */
  cancel(): void {
    if (!this.current) return;
    this.fire();
    this.timer ??= setInterval(() => {
      if (!this.current) this.stopRetries();
      else this.fire();
    }, this.periodMs);
  }

  /** For close: cancel the call in flight and wait until it has settled (its outcome is dropped).
   * Close awaits it only when `busy`, so an idle handle still closes synchronously. */
  async drain(): Promise<void> {
    const call = this.current;
    if (!call) return;
    this.cancel();
    await call.catch(() => undefined);
  }

  stopRetries(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
