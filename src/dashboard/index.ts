/**
 * blastwall/dashboard: one page that tells the truth during an incident (docs/dashboard.md).
 */
export { dashboardHandler, sourceHandler, type DashboardHandler, type DashboardOptions, type DashboardSource } from './handler.js';
export { type DashboardState, type DependencyState, type OperationState, type Alert, STATE_SCHEMA, timelineState, wallState } from './state.js';
export { ACTIONS, ACTION_HEADER, MAX_ACTION_BYTES, tokenMatches } from './actions.js';
export { dashboardFastify, dashboardHono } from './mounts.js';
