// The worker entry's old path (dist/workers/shard.js), kept so that it still loads: see worker.ts.
export { default } from './worker.js';
