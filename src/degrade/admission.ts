/**
 * Admission control for inbound work by priority class. The controller lives in `./admission/`:
 * `controller.ts` (queues, CoDel, the door), `shed.ts` (the shed controller judged per window),
 * `signals.ts` (event-loop utilisation), `options.ts` (validation of every option at declaration).
 */
export { AdmissionController, type AdmissionSnapshot, type AdmitOptions, type Ticket } from './admission/controller.js';
export { type AdmissionOptions } from './admission/options.js';
export { ShedController, type LoopReading, type ShedSettings, type ShedState, type WindowStats } from './admission/shed.js';
