// Network faults through Toxiproxy (issue 13, items 1 and 5), workers 0 and
// 2: a bounded load (8 write and 4 read loops, every operation on its own
// session.copy(), poolLimit 6) while each toxic of bench/chaos/faults.ts
// (latency with jitter, bandwidth, a black hole, resets, slow close, slicer,
// data limit) is applied for 1.5 s and removed, through driver -> counting
// proxy -> Toxiproxy -> FerretDB. Errors during the fault are allowed (the
// diagnostic shows them); what must hold is fault-invariants.ts: the limit
// from both sides, no operation past its deadline, no acknowledged write
// lost, stats back to baseline and new operations succeeding once the fault
// is gone. bench/chaos.ts runs the same scenarios longer and reports them.
import { NETWORK_FAULTS } from '../../bench/chaos/faults.js';
import { describeFaults } from '../fixtures/fault-suite.js';

describeFaults('network faults', NETWORK_FAULTS);
