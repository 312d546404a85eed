/**
 * Durable deferred work, the outbox relay, the ordering guard and quarantine — all on an IntegrityStore —
 * each in its own file; this module re-exports them for existing imports.
 */
export { type Delivery, DurableQueue, type DurableQueueOptions, type Handler, type PollResult, createDurableQueue } from './durable-queue.js';
export { DurableDeferred, type DurableDeferredOptions, createDurableDeferred } from './durable-deferred.js';
export { OrderingGuard, createOrderingGuard } from './ordering-guard.js';
export { OutboxRelay, type OutboxRelayOptions, createOutboxRelay } from './outbox-relay.js';
export { Quarantine, createQuarantine } from './quarantine.js';
