// Connection-string spec tests (see uri-spec-runner.ts). No case is skipped.
import { runUriSpecSuite } from './uri-spec-runner.js';

runUriSpecSuite('connection-string');
