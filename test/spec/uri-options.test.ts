// URI options spec tests (see test/fixtures/uri-spec-runner.ts). Options the driver does
// not implement yet are still parsed to the spec; resolveOptions refuses them.
import { runUriSpecSuite } from '../fixtures/uri-spec-runner.js';

runUriSpecSuite('uri-options');
