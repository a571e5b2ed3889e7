// mongodb+srv:// resolution against a scripted resolver: no test here touches
// the network. Cases follow the seedlist spec's DNS fixtures and prose tests.
import { strict as assert } from 'node:assert';
import type { SrvRecord } from 'node:dns';
import { describe, test } from 'node:test';
import { resolveOptions } from '../../../src/uri/resolve.js';
import { lookupSeedlist, type DnsResolver } from '../../../src/uri/srv.js';
import { invalidOption } from '../../fixtures/invalid-option.js';

type Answer<T> = T | Error;

function dnsError(code: string): Error {
  return Object.assign(new Error(`query failed: ${code}`), { code });
}

/** A resolver answering from tables, recording the names asked. */
function fakeDns(srv: Record<string, Answer<string[]>>, txt: Record<string, Answer<string[][]>> = {}) {
  const asked: string[] = [];
  const answer = async <T>(table: Record<string, Answer<T>>, name: string, parse: (a: T) => unknown) => {
    asked.push(name);
    const found = table[name];
    if (found === undefined) throw dnsError('ENOTFOUND');
    if (found instanceof Error) throw found;
    return parse(found);
  };
  const resolver: DnsResolver = {
    // "host:port" targets; priority and weight are not ours to use.
    resolveSrv: (name) =>
      answer(srv, name, (targets) =>
        targets.map((t): SrvRecord => ({ name: t.split(':')[0]!, port: Number(t.split(':')[1]), priority: 0, weight: 5 })),
      ) as Promise<SrvRecord[]>,
    resolveTxt: (name) => answer(txt, name, (records) => records) as Promise<string[][]>,
  };
  return { resolver, asked };
}

const seeds = (...targets: string[]) => targets;

function assertLookupFails(resolver: DnsResolver, hostname: string, pattern: RegExp): Promise<void> {
  return assert.rejects(lookupSeedlist({ hostname, serviceName: 'mongodb', maxHosts: 0 }, resolver), invalidOption('ERR_SRV_LOOKUP', pattern));
}

describe('lookupSeedlist', () => {
  test('queries _{service}._tcp.{host} and the TXT record of {host}', async () => {
    const { resolver, asked } = fakeDns(
      { '_mongodb._tcp.test5.test.build.10gen.cc': seeds('localhost.test.build.10gen.cc.:27017', 'LOCALHOST.test.build.10gen.cc:27018') },
      { 'test5.test.build.10gen.cc': [['replicaSet=repl0&authSource=thisDB']] },
    );
    const list = await lookupSeedlist({ hostname: 'Test5.test.build.10gen.cc', serviceName: 'mongodb', maxHosts: 0 }, resolver);
    assert.deepEqual(asked.sort(), ['_mongodb._tcp.test5.test.build.10gen.cc', 'test5.test.build.10gen.cc']);
    assert.deepEqual(list.hosts, [
      { type: 'hostname', host: 'localhost.test.build.10gen.cc', port: 27017 },
      { type: 'hostname', host: 'localhost.test.build.10gen.cc', port: 27018 },
    ]);
    assert.deepEqual(list.options, { replicaSet: 'repl0', authSource: 'thisDB' });
  });

  test('a custom service name', async () => {
    const { resolver, asked } = fakeDns({ '_customname._tcp.test22.test.build.10gen.cc': seeds('localhost.test.build.10gen.cc:27017') });
    await lookupSeedlist({ hostname: 'test22.test.build.10gen.cc', serviceName: 'customname', maxHosts: 0 }, resolver);
    assert.ok(asked.includes('_customname._tcp.test22.test.build.10gen.cc'));
  });

  test('a TXT record in several strings is joined in order', async () => {
    const { resolver } = fakeDns(
      { '_mongodb._tcp.test11.test.build.10gen.cc': seeds('localhost.test.build.10gen.cc:27017') },
      { 'test11.test.build.10gen.cc': [['replicaS', 'et=rep', 'l0']] },
    );
    const list = await lookupSeedlist({ hostname: 'test11.test.build.10gen.cc', serviceName: 'mongodb', maxHosts: 0 }, resolver);
    assert.deepEqual(list.options, { replicaSet: 'repl0' });
  });

  test('no TXT record means no options', async () => {
    const { resolver } = fakeDns({ '_mongodb._tcp.a.example.com': seeds('h.example.com:1') }, { 'a.example.com': dnsError('ENODATA') });
    const list = await lookupSeedlist({ hostname: 'a.example.com', serviceName: 'mongodb', maxHosts: 0 }, resolver);
    assert.deepEqual(list.options, {});
  });

  test('srvMaxHosts picks that many distinct hosts at random', async () => {
    const all = ['a', 'b', 'c', 'd', 'e'].map((h, i) => `${h}.example.com:${27017 + i}`);
    const { resolver } = fakeDns({ '_mongodb._tcp.x.example.com': all });
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const { hosts } = await lookupSeedlist({ hostname: 'x.example.com', serviceName: 'mongodb', maxHosts: 2 }, resolver);
      assert.equal(hosts.length, 2);
      assert.notEqual(hosts[0]!.host, hosts[1]!.host);
      for (const h of hosts) seen.add(h.host);
    }
    assert.ok(seen.size > 2, 'the pick is not always the same');
    const { hosts } = await lookupSeedlist({ hostname: 'x.example.com', serviceName: 'mongodb', maxHosts: 9 }, resolver);
    assert.equal(hosts.length, 5);
  });

  // Seedlist spec, "Querying DNS", fixtures test12-19 and prose tests 2-4.
  const outsideDomain: [string, string][] = [
    ['test12.test.build.10gen.cc', 'localhost.build.10gen.cc'],
    ['test13.test.build.10gen.cc', 'test.build.10gen.cc'],
    ['test14.test.build.10gen.cc', 'localhost.not-test.build.10gen.cc'],
    ['test17.test.build.10gen.cc', 'localhost.test.build.10gen.not-cc'],
    ['localhost', 'localhost.mongodb'],
    ['mongo.local', 'test_1.evil.local'],
    ['blogs.mongodb.com', 'blogs.evil.com'],
    ['localhost', 'localhost'],
    ['mongo.local', 'mongo.local'],
    ['localhost', 'test_1.cluster_1localhost'],
    ['mongo.local', 'test_1.my_hostmongo.local'],
    ['blogs.mongodb.com', 'cluster.testmongodb.com'],
  ];
  for (const [hostname, target] of outsideDomain) {
    test(`refuses ${hostname} -> ${target}`, async () => {
      const { resolver } = fakeDns({ [`_mongodb._tcp.${hostname}`]: [`${target}:27017`] });
      await assertLookupFails(resolver, hostname, /is not within the domain/);
    });
  }

  test('accepts a target equal to a host of three or more labels, and deeper ones', async () => {
    const { resolver } = fakeDns({
      '_mongodb._tcp.test.build.10gen.cc': seeds('test.build.10gen.cc:27017'),
      '_mongodb._tcp.test18.test.build.10gen.cc': seeds('localhost.sub.test.build.10gen.cc:27017'),
      '_mongodb._tcp.localhost': seeds('db1.localhost:27017'),
    });
    for (const hostname of ['test.build.10gen.cc', 'test18.test.build.10gen.cc', 'localhost']) {
      const { hosts } = await lookupSeedlist({ hostname, serviceName: 'mongodb', maxHosts: 0 }, resolver);
      assert.equal(hosts.length, 1);
    }
  });

  const host = 'c.example.com';
  const srvName = `_mongodb._tcp.${host}`;
  const one = { [srvName]: seeds('n1.example.com:27017') };
  const failures: [string, DnsResolver, RegExp][] = [
    ['no SRV record', fakeDns({}).resolver, /^SRV lookup of '_mongodb._tcp.c.example.com' failed: ENOTFOUND$/],
    ['an empty answer', fakeDns({ [srvName]: [] }).resolver, /found no records/],
    ['a TXT lookup failure', fakeDns(one, { [host]: dnsError('ETIMEOUT') }).resolver, /TXT lookup of 'c.example.com' failed: ETIMEOUT/],
    ['two TXT records', fakeDns(one, { [host]: [['replicaSet=repl0'], ['authSource=otherDB']] }).resolver, /has 2 TXT records; at most one/],
    ['ssl in TXT', fakeDns(one, { [host]: [['ssl=false']] }).resolver, /sets 'tls'; only authSource, replicaSet, loadBalanced/],
    ['another option in TXT', fakeDns(one, { [host]: [['socketTimeoutMS=500']] }).resolver, /sets 'socketTimeoutMS'/],
    ['an unknown key in TXT', fakeDns(one, { [host]: [['replicaSet=r&foo=bar']] }).resolver, /sets 'foo'/],
    ['an invalid value in TXT', fakeDns(one, { [host]: [['loadBalanced=1']] }).resolver, /invalid value '1' for option 'loadBalanced'/],
    ['a key without value in TXT', fakeDns(one, { [host]: [['authSource']] }).resolver, /TXT record of 'c.example.com': option 'authSource' has no value/],
  ];
  for (const [what, resolver, pattern] of failures) test(`fails on ${what}`, () => assertLookupFails(resolver, host, pattern));
});

describe('resolveOptions with mongodb+srv://', () => {
  const srv = fakeDns(
    {
      '_mongodb._tcp.rs.example.com': seeds('n1.example.com:27017', 'n2.example.com:27018'),
      '_mongodb._tcp.lb.example.com': seeds('lb1.example.com:27017'),
      '_mongodb._tcp.lb2.example.com': seeds('lb1.example.com:27017', 'lb2.example.com:27017'),
    },
    {
      'rs.example.com': [['replicaSet=repl0&authSource=thisDB']],
      'lb.example.com': [['loadBalanced=false']],
      'lb2.example.com': [['loadBalanced=true']],
    },
  ).resolver;

  test('TLS is implied unless tls=false', async () => {
    assert.equal((await resolveOptions('mongodb+srv://lb.example.com', {}, { dns: srv })).tls, true);
    assert.equal((await resolveOptions('mongodb+srv://lb.example.com/?ssl=false', {}, { dns: srv })).tls, false);
  });

  test('hosts from SRV, options from TXT, overridden by the URL and the object', async () => {
    const o = await resolveOptions('mongodb+srv://rs.example.com/app?tls=false&authSource=urlDB', { appName: 'svc' }, { dns: srv });
    assert.deepEqual(
      o.hosts.map((h) => h.address),
      ['n1.example.com:27017', 'n2.example.com:27018'],
    );
    assert.equal(o.replicaSet, 'repl0');
    assert.equal(o.authSource, 'urlDB');
    assert.equal(o.srvHost, 'rs.example.com');
    assert.equal(o.database, 'app');
    assert.equal(o.tls, false);
    const fromObject = await resolveOptions('mongodb+srv://rs.example.com', { tls: false, replicaSet: 'mine' }, { dns: srv });
    assert.equal(fromObject.replicaSet, 'mine');
  });

  test('the rules run after the lookups', async () => {
    await assert.rejects(resolveOptions('mongodb+srv://rs.example.com/?tls=false&srvMaxHosts=1', {}, { dns: srv }), {
      code: 'ERR_INVALID_OPTION',
      message: "a positive 'srvMaxHosts' cannot be combined with 'replicaSet'",
    });
    await assert.rejects(resolveOptions('mongodb+srv://lb2.example.com/?tls=false', {}, { dns: srv }), {
      code: 'ERR_INVALID_OPTION',
      message: 'loadBalanced=true needs exactly one host (the load balancer), not 2',
    });
    await assert.rejects(resolveOptions('mongodb+srv://lb.example.com/?tls=false&loadBalanced=true', {}, { dns: srv }), {
      code: 'ERR_UNSUPPORTED_OPTION',
      message: "option 'loadBalanced' set to true is not supported: load-balanced mode is not implemented yet",
    });
  });

  test('DNS failures surface as ERR_SRV_LOOKUP', async () => {
    await assert.rejects(resolveOptions('mongodb+srv://nowhere.example.com/?tls=false', {}, { dns: srv }), { code: 'ERR_SRV_LOOKUP' });
  });
});
