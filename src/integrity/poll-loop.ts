/** The poll loop the durable queue and the outbox relay run on. */
import type { Clock } from '../core/clock.js';

/** Runs `step` until stopped: again at once when it says so (a full batch), else after `everyMs`. */
export class PollLoop {
  private timer: ReturnType<Clock['setTimer']> | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = true;

  constructor(
    private readonly clock: Clock,
    private readonly everyMs: number,
  ) {}

  start(step: () => Promise<boolean>, onError: (err: unknown) => void): void {
    if (!this.stopped) return;
    this.stopped = false;
    const loop = (): void => {
      this.timer = undefined;
      if (this.stopped) return;
      this.running = step()
        .catch((err: unknown) => {
          onError(err);
          return false;
        })
        .then((again) => {
          if (!this.stopped) this.timer = this.clock.setTimer(loop, again ? 0 : this.everyMs);
        });
    };
    loop();
  }

  /** Stops and waits for the step in hand. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
