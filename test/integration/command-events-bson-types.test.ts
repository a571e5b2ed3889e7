// The command of a commandStarted event keeps its int64 values as Long, in
// the command's body and in its document sequences, with workers 0 and 2
// alike (issue 15: the same events whatever the workers, BSON types intact
// across the thread crossing). A worker's command crosses as BSON; decoded
// with js-bson's default promoteLongs, an int64 that fits a double came out
// as a number with workers (a Long with workers: 0), and the documents of
// an insert came out as numbers in both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dial, Long, type CommandStartedEvent, type Published } from '../../src/index.js';
import { testServerForFile } from '../fixtures/file-server.js';

const DB = `mgo_command_events_types_${process.pid}`;
const server = testServerForFile(DB);

for (const workers of [0, 2]) {
  test(`workers ${workers}: a Long stays a Long in commandStarted's command (body and documents), a number stays a number`, { timeout: 60_000 }, async () => {
    const session = await dial(server.uri, { workers });
    const started: Published<CommandStartedEvent>[] = [];
    session.events.on('commandStarted', (event) => started.push(event));
    try {
      const c = session.db(DB).c(`types${workers}`);
      await c.insert({ _id: 1, small: Long.fromNumber(5), big: Long.fromString('9007199254740993'), plain: 7 });
      await c.find({ small: Long.fromNumber(5), plain: 7 }).all();
      const insert = started.find((e) => e.commandName === 'insert')!;
      const find = started.find((e) => e.commandName === 'find')!;
      const [document] = insert.command.documents as Record<string, unknown>[];
      assert.ok(document!.small instanceof Long && document!.small.toNumber() === 5, `inserted small: ${String(document!.small?.constructor.name)}`);
      assert.ok(document!.big instanceof Long && document!.big.toString() === '9007199254740993');
      assert.equal(document!.plain, 7);
      const filter = find.command.filter as Record<string, unknown>;
      assert.ok(filter.small instanceof Long && filter.small.toNumber() === 5, `filter small: ${String(filter.small?.constructor.name)}`);
      assert.equal(filter.plain, 7);
    } finally {
      await session.close();
    }
  });
}
