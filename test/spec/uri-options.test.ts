// URI options spec tests (see uri-spec-runner.ts). Options the driver does
// not implement yet are still parsed to the spec; resolveOptions refuses them.
import { runUriSpecSuite } from './uri-spec-runner.js';

runUriSpecSuite('uri-options');
