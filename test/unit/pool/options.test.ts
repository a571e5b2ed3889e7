// Out-of-range options fail in the constructor with an error naming the option.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';

import { InvalidOptionError } from '../../../src/errors.js';
import { LocalPermits, Pool, POOL_DEFAULTS, type PoolOptions } from '../../../src/pool/index.js';
import { FakeConnector } from '../../fixtures/cmap-fake-connection.js';

const base = (): PoolOptions => ({ address: 'localhost:27017', connect: new FakeConnector().connect });

const invalid: [string, Partial<PoolOptions>, RegExp][] = [
  ['negative maxPoolSize', { maxPoolSize: -1 }, /maxPoolSize/],
  ['fractional maxPoolSize', { maxPoolSize: 1.5 }, /maxPoolSize/],
  ['negative minPoolSize', { minPoolSize: -2 }, /minPoolSize/],
  ['minPoolSize above maxPoolSize', { maxPoolSize: 2, minPoolSize: 3 }, /minPoolSize \(3\) must not exceed maxPoolSize \(2\)/],
  ['maxConnecting 0', { maxConnecting: 0 }, /maxConnecting/],
  ['negative waitQueueTimeoutMS', { waitQueueTimeoutMS: -5 }, /waitQueueTimeoutMS/],
  ['infinite waitQueueTimeoutMS', { waitQueueTimeoutMS: Infinity }, /waitQueueTimeoutMS/],
  ['NaN maxIdleTimeMS', { maxIdleTimeMS: NaN }, /maxIdleTimeMS/],
  ['negative maxLifetimeMS', { maxLifetimeMS: -1 }, /maxLifetimeMS/],
  ['zero maintenanceIntervalMS', { maintenanceIntervalMS: 0 }, /maintenanceIntervalMS/],
  ['negative defaultIdentity', { defaultIdentity: -1 }, /defaultIdentity must be an integer >= 0/],
  ['fractional defaultIdentity', { defaultIdentity: 0.5 }, /defaultIdentity/],
  ['empty address', { address: '' }, /address/],
  ['permit limit disagreeing with maxPoolSize', { maxPoolSize: 5, permits: new LocalPermits(4) }, /maxPoolSize \(5\) disagrees/],
];

describe('pool options', () => {
  for (const [what, options, message] of invalid) {
    it(`rejects ${what}`, () => {
      assert.throws(
        () => new Pool({ ...base(), ...options }),
        (error: unknown) => error instanceof InvalidOptionError && error.code === 'ERR_INVALID_OPTION' && message.test(error.message),
      );
    });
  }

  it('applies the defaults (minPoolSize 0 of 0 allowed with unlimited maxPoolSize)', async () => {
    const pool = new Pool(base());
    assert.deepEqual(pool.options, POOL_DEFAULTS);
    assert.equal(pool.stats().maxOpen, 100);
    assert.doesNotThrow(() => new Pool({ ...base(), maxPoolSize: 0, minPoolSize: 10 }));
    await pool.close();
  });

  it('takes its limit from a given permit source', () => {
    const pool = new Pool({ ...base(), permits: new LocalPermits(7) });
    assert.equal(pool.options.maxPoolSize, 7);
    assert.equal(pool.stats().maxOpen, 7);
  });
});
