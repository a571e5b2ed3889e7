import { strict as assert } from 'node:assert';
import { InvalidOptionError } from '../../../src/errors.js';

/**
 * A validator for assert.throws and assert.rejects: an InvalidOptionError
 * with `code`, a message matching `pattern`, and none of `absent` in it.
 */
export function invalidOption(code: InvalidOptionError['code'], pattern: RegExp, absent: readonly string[] = []) {
  return (error: unknown): true => {
    assert.ok(error instanceof InvalidOptionError, String(error));
    assert.equal(error.code, code, error.message);
    assert.match(error.message, pattern);
    for (const text of absent) assert.ok(!error.message.includes(text), `'${text}' in: ${error.message}`);
    return true;
  };
}
