// The connection layer's view of an EventSink for command events: asked
// once per command, before anything is built, so that nobody listening
// costs one check and no event object (issue 15: <= 1 us per operation).
import type { CommandEventOutlet } from '../connection/command-events.js';
import type { EventSink } from './events.js';

export function commandOutlet(sink: EventSink): CommandEventOutlet {
  return {
    wanted: () => sink.wants('CommandStarted'),
    publish: (event) => sink.publish(event),
  };
}
