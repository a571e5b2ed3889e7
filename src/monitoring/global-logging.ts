// The process-wide logging switches of mgo's SetLogger and SetDebug
// (src/session/logging.ts exports them as setLogger() and setDebug()).
// Every dial's Logger reads them, live: a change applies to dials made
// before it too, as mgo's globals did. `generation` tells a Logger that
// its cached levels are stale, so that asking costs one comparison.
import type { GlobalLogging } from './log-settings.js';

let lineSink: ((line: string) => void) | undefined;
let debug = false;
let generation = 0;

/** The current switches and their generation (bumped by every change). */
export function globalLogging(): GlobalLogging & { readonly generation: number } {
  return { lineSink, debug, generation };
}

/** The current generation alone: what a Logger compares on each wanted(). */
export function globalLoggingGeneration(): number {
  return generation;
}

export function setGlobalLineSink(sink: ((line: string) => void) | undefined): void {
  lineSink = sink;
  generation++;
}

export function setGlobalDebug(on: boolean): void {
  debug = on;
  generation++;
}
