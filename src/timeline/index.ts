// The code of this folder lives in timeline.ts (files are named for what they hold); this entry re-exports it.
export * from './timeline.js';
// The fleet: a PostgreSQL timeline shared by every instance, heartbeats and the fleet view. `createTimeline`
// from postgres.ts takes precedence over timeline.ts's (it opens the SQLite file unless a `url` is given).
export { createTimeline, PostgresTimeline, type FleetTimelineEntry, type FleetTimelineQuery, type PostgresTimelineOptions } from './postgres.js';
export { fleetState, publishHeartbeat, type FleetInstance, type FleetStateOptions, type HeartbeatOptions, type FleetHealth, type HeartbeatSource, type StopHeartbeat } from './fleet.js';
