// Runs the JSON tests of the connection-string and URI options specs against
// parseConnectionString (the spec-conformant parse; the driver's own policy
// lives in resolveOptions and is tested in test/unit/uri). The files are read
// from ../shared/specs at test time, or from $MGO_SPECS_DIR.
//
// Assertions follow the specs' test READMEs: `valid` decides whether parsing
// throws, `warning` whether it warns; `hosts`, `auth` and `options` are
// compared where not null, options by case-insensitive name and only those
// listed.

import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { InvalidOptionError } from '../../src/errors.js';
import { parseConnectionString } from '../../src/uri/connection-string.js';
import { findOption } from '../../src/uri/options.js';

interface SpecCase {
  description: string;
  uri: string;
  valid: boolean;
  warning: boolean | null;
  hosts: { type: string; host: string; port: number | null }[] | null;
  auth: { username: string | null; password: string | null; db: string | null } | null;
  options: Record<string, unknown> | null;
}

const specsDir = process.env.MGO_SPECS_DIR ?? resolve(import.meta.dirname, '../../../shared/specs');

function runCase(c: SpecCase): void {
  if (!c.valid) {
    assert.throws(() => parseConnectionString(c.uri), InvalidOptionError);
    return;
  }
  const parsed = parseConnectionString(c.uri);
  if (c.warning !== null) {
    assert.equal(parsed.warnings.length > 0, c.warning, `warnings: ${JSON.stringify(parsed.warnings)}`);
  }
  if (c.hosts) assert.deepEqual(parsed.hosts, c.hosts);
  if (c.auth) {
    const { username, password, database: db } = parsed;
    assert.deepEqual({ username, password, db }, c.auth);
  }
  for (const [key, expected] of Object.entries(c.options ?? {})) {
    const found = findOption(key);
    assert.ok(found, `the option table does not know '${key}'`);
    assert.deepEqual(parsed.options[found.name], expected, `option '${key}'`);
  }
}

/**
 * One describe per JSON file of `<specs>/<folder>/tests`, one test per case.
 * `skips` maps "file.json: description" to the reason for skipping it.
 */
export function runUriSpecSuite(folder: string, skips: Readonly<Record<string, string>> = {}): void {
  const dir = join(specsDir, folder, 'tests');
  const counts = { total: 0, passed: 0, skipped: 0 };
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const { tests } = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { tests: SpecCase[] };
    counts.total += tests.length;
    describe(file, () => {
      for (const c of tests) {
        test(c.description, (t) => {
          const reason = skips[`${file}: ${c.description}`];
          if (reason !== undefined) {
            counts.skipped++;
            t.skip(reason);
            return;
          }
          runCase(c);
          counts.passed++;
        });
      }
    });
  }
  after(() => console.log(`${folder} spec tests: ${counts.passed} of ${counts.total} passed, ${counts.skipped} skipped`));
}
