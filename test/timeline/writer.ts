// Child process for the kill test: records entries, acknowledges each flushed batch on stdout, never stops.
import { createTimeline } from '../../src/timeline/index.js';

const tl = createTimeline({ path: process.argv[2]!, service: 'writer', flushEvery: '1h' });
let n = 0;
for (;;) {
  for (let i = 0; i < 25; i++) tl.record({ kind: 'note', severity: 'info', title: `entry ${++n}`, data: { n } });
  tl.flush();
  process.stdout.write(`ACK ${n}\n`);
  await new Promise((r) => setImmediate(r));
}
