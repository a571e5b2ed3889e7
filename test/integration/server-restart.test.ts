// FerretDB killed with SIGKILL under load and started again on the same port
// and data directory after 1.5 s (issue 13, items 1 and 5), workers 0 and 2:
// the load and invariants of network-faults.test.ts (fault-suite.ts).
// Operations in flight when it dies fail or are retried once it is back;
// every write acknowledged before the kill or after the restart must be
// there afterwards (FerretDB's SQLite backend commits before it replies).
import { SERVER_RESTART } from '../../bench/chaos/faults.js';
import { describeFaults } from '../fixtures/fault-suite.js';

describeFaults('server restart', [SERVER_RESTART]);
