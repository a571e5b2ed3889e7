// The connection layer's view of an EventSink for command events: wanted()
// asks for the command bit only, once per command, so that nobody
// listening costs no event object (issue 15: <= 1 us per operation).
import type { CommandEventOutlet } from '../connection/command-events.js';
import { WANT_COMMAND, type EventSink } from './events.js';

export function commandOutlet(sink: EventSink): CommandEventOutlet {
  return {
    wanted: () => (sink.wanted() & WANT_COMMAND) !== 0,
    publish: (event) => sink.publish(event),
  };
}
