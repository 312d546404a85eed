export { FakeClock, flushMicrotasks } from '../core/fake-clock.js';
export { FaultProxy, startFaultProxy, type FaultProxyOptions, type ProxyFaults, type ProxyMode, type ProxyStats } from './tcp-proxy.js';
export * from '../chaos/index.js';
// the fault admin route is an HTTP handler: it lives with the other handlers (the wall imports chaos, so chaos imports no http)
export { faultsHandler, type FaultsHandler, type FaultsHandlerOptions } from '../http/faults-route.js';
