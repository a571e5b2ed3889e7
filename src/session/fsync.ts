// mgo's Fsync, FsyncLock and FsyncUnlock: admin commands on the server the
// session's operations go to. As in mgo they run like Session.run(): in a
// mode that reserves a socket (Strong, Monotonic...) a lock and its unlock
// reach the same server; in Eventual each may go to another one, so lock
// through a Strong session (or a direct connection to lock a secondary).
import type { Document } from 'bson';

/** fsync: flush to disk; `async` returns before the flush is done (servers before 4.2 only; newer ones refuse it). */
export function fsyncCommand(async: boolean): Document {
  return { fsync: 1, async: async === true };
}

/** fsync with lock: the server blocks writes until fsyncUnlock (a backup's consistent files). */
export function fsyncLockCommand(): Document {
  return { fsync: 1, lock: true };
}

/** Releases one fsyncLock (locks nest: the server counts them). */
export function fsyncUnlockCommand(): Document {
  return { fsyncUnlock: 1 };
}
