// The cluster layer's view of an EventSink for SDAM events: wanted() asks
// for the topology bit only, so that heartbeats and description changes
// are built only while someone observes topology events.
import type { SdamEventOutlet } from '../cluster/sdam-events.js';
import { WANT_TOPOLOGY, type EventSink } from './events.js';

export function topologyOutlet(sink: EventSink): SdamEventOutlet {
  return {
    wanted: () => (sink.wanted() & WANT_TOPOLOGY) !== 0,
    publish: (event) => sink.publish(event),
  };
}
