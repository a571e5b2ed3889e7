// Checks of the numbers users pass to setters and query modifiers, with
// messages that name the method.
import { MgoError } from '../errors.js';

/** An integer >= min (a count, a size, or milliseconds), else ERR_INVALID_ARGUMENT. */
export function checkInteger(method: string, value: number, min = 0): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new MgoError('ERR_INVALID_ARGUMENT', `${method}: expected an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}

/** A number from 0 to 1 (mgo's prefetch), else ERR_INVALID_ARGUMENT. */
export function checkFraction(method: string, value: number): number {
  if (!(typeof value === 'number' && value >= 0 && value <= 1)) {
    throw new MgoError('ERR_INVALID_ARGUMENT', `${method}: expected a number from 0 to 1, got ${String(value)}`);
  }
  return value;
}
