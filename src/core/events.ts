/**
 * Typed events as subscribe functions that return a disposer. Emitting costs one length check when
 * nobody listens; producers check `active` before building an event object.
 */
export type Listener<E> = (event: E) => void;
/**
 * Subscribes `listener` to an event stream (e.g. a breaker's `onStateChange`, a retry policy's
 * `onRetry`) and returns the function that unsubscribes it (calling that again does nothing). Listeners
 * run synchronously, in subscription order, when the event happens; one that throws is reported as a
 * process warning and does not stop the others or the call that raised the event.
 */
export type Subscribe<E> = (listener: Listener<E>) => () => void;

export class Emitter<E> {
  private listeners: Listener<E>[] = [];
  /** True while at least one listener is subscribed. */
  active = false;

  readonly subscribe: Subscribe<E> = (listener) => {
    this.listeners = [...this.listeners, listener];
    this.active = true;
    let disposed = false;
    return () => {
      if (disposed) return;
      disposed = true;
      this.listeners = this.listeners.filter((l) => l !== listener);
      this.active = this.listeners.length > 0;
    };
  };

  emit(event: E): void {
    const ls = this.listeners;
    for (let i = 0; i < ls.length; i++) {
      try {
        ls[i]!(event);
      } catch (err) {
        // A listener's bug must not break the call path; report it where people look.
        process.emitWarning(`blastwall: an event listener threw: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      }
    }
  }

  clear(): void {
    this.listeners = [];
    this.active = false;
  }
}
