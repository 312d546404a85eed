/**
 * `blastwall/testing`: what tests need to drive blastwall without sleeping or breaking real servers: the
 * `FakeClock` (time moves only when the test says so), a TCP fault proxy to cut, delay or blackhole a real
 * connection, and the chaos helpers (faults, drills, invariants).
 * @module
 */
export { FakeClock, flushMicrotasks } from '../core/fake-clock.js';
export { FaultProxy, startFaultProxy, type FaultProxyOptions, type ProxyFaults, type ProxyMode, type ProxyStats } from './tcp-proxy.js';
export * from '../chaos/index.js';
// the fault admin route is an HTTP handler: it lives with the other handlers (the wall imports chaos, so chaos imports no http)
export { faultsHandler, type FaultsHandler, type FaultsHandlerOptions } from '../http/faults-route.js';
