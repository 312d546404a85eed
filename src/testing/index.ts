export { FakeClock, flushMicrotasks } from '../core/fake-clock.js';
export { FaultProxy, startFaultProxy, type FaultProxyOptions, type ProxyFaults, type ProxyMode, type ProxyStats } from './tcp-proxy.js';
export * from '../chaos/index.js';
