// mgo's ChangeInfo: what an acknowledged update, upsert, removal or
// findAndModify changed, filled in field by field the way mgo fills it.

/** mgo's ChangeInfo: what an acknowledged updateAll(), upsert(), removeAll() or apply() changed. */
export interface ChangeInfo {
  /** Documents modified (for upserts and apply(): matched, as the server reports it). */
  updated: number;
  /** Documents removed. */
  removed: number;
  /** Documents matched, whether or not they changed. */
  matched: number;
  /** The _id of the document an upsert inserted; absent when it updated one. */
  upsertedId?: unknown;
}

/** The counts of one acknowledged write command (summed over its batches). */
export interface WriteCounts {
  n: number;
  nModified: number;
  upsertedId?: unknown;
  /** Matched existing documents and upserted none. */
  updatedExisting: boolean;
}

function changeInfo(updated: number, removed: number, matched: number, upsertedId?: unknown): ChangeInfo {
  const info: ChangeInfo = { updated, removed, matched };
  if (upsertedId !== undefined) info.upsertedId = upsertedId;
  return info;
}

/** updateAll(): matched n, modified nModified. */
export function updateChange(counts: WriteCounts): ChangeInfo {
  return changeInfo(counts.nModified, 0, counts.n);
}

/** upsert(): the counts of the update, or only the inserted document's _id. */
export function upsertChange(counts: WriteCounts): ChangeInfo {
  return counts.updatedExisting ? changeInfo(counts.nModified, 0, counts.n) : changeInfo(0, 0, 0, counts.upsertedId);
}

/** removeAll(): removed and matched are both n. */
export function removeChange(counts: WriteCounts): ChangeInfo {
  return changeInfo(0, counts.n, counts.n);
}

/** The lastErrorObject of a findAndModify reply. */
export interface FindAndModifyStatus {
  n: number;
  updatedExisting: boolean;
  upserted?: unknown;
}

/** apply(): updated (= matched), removed, or the upserted _id. */
export function applyChange(status: FindAndModifyStatus, change: { remove?: boolean; upsert?: boolean }): ChangeInfo {
  if (status.updatedExisting) return changeInfo(status.n, 0, status.n);
  if (change.remove) return changeInfo(0, status.n, status.n);
  if (change.upsert) return changeInfo(0, 0, 0, status.upserted);
  return changeInfo(0, 0, 0);
}
