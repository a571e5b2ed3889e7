// Connection-string spec tests (see test/fixtures/uri-spec-runner.ts). No case is skipped.
import { runUriSpecSuite } from '../fixtures/uri-spec-runner.js';

runUriSpecSuite('connection-string');
