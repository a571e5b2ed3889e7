// mgo's user management on MongoDB 2.6+ commands (createUser, updateUser,
// dropUser): Database.upsertUser, addUser and removeUser build and run them
// here. mgo's fallbacks for servers before 2.6 (writing system.users with an
// MD5 "user:mongo:password" hash) are left out: the driver's oldest server
// speaks OP_MSG (3.6+), where those commands always exist.
import type { Document } from 'bson';
import { withoutSecrets } from '../auth/authenticate.js';
import { MgoError, ServerError } from '../errors.js';
import type { Database } from './database.js';
import { runCommand } from './database.js';
import { ErrNotFound } from './errors.js';

/** A built-in role's name (mgo's Role); any other string names a custom role. */
export type Role = string;

/** mgo's RoleRoot: every privilege of the readWriteAnyDatabase, dbAdminAnyDatabase, userAdminAnyDatabase, clusterAdmin, restore and backup roles. */
export const RoleRoot: Role = 'root';
/** mgo's RoleRead: read the database's non-system collections. */
export const RoleRead: Role = 'read';
/** mgo's RoleReadAny: read, on every database but local and config (a role of admin). */
export const RoleReadAny: Role = 'readAnyDatabase';
/** mgo's RoleReadWrite: read plus modify the database's non-system collections. */
export const RoleReadWrite: Role = 'readWrite';
/** mgo's RoleReadWriteAny: readWrite, on every database but local and config (a role of admin). */
export const RoleReadWriteAny: Role = 'readWriteAnyDatabase';
/** mgo's RoleDBAdmin: schema, indexes and statistics of the database, not its data nor its users. */
export const RoleDBAdmin: Role = 'dbAdmin';
/** mgo's RoleDBAdminAny: dbAdmin, on every database but local and config (a role of admin). */
export const RoleDBAdminAny: Role = 'dbAdminAnyDatabase';
/** mgo's RoleUserAdmin: create and modify the database's users and roles (so, indirectly, any privilege there). */
export const RoleUserAdmin: Role = 'userAdmin';
/** mgo's RoleUserAdminAny: userAdmin, on every database but local and config (a role of admin). */
export const RoleUserAdminAny: Role = 'userAdminAnyDatabase';
/** mgo's RoleClusterAdmin: clusterManager, clusterMonitor and hostManager together, plus dropDatabase (a role of admin). */
export const RoleClusterAdmin: Role = 'clusterAdmin';

/**
 * mgo's User: what upsertUser() creates or updates. Differences from mgo:
 * `customData` is sent (mgo's 2.6+ path drops it); `passwordHash` (the
 * MONGODB-CR MD5 digest mgo writes into system.users of servers before 2.6)
 * is refused, since servers since 3.0 take only the password itself.
 */
export interface User {
  /** The user's name in the database it is created in. */
  username: string;
  /** The plain-text password; the server stores only SCRAM keys of it. Left out: the password is not changed. */
  password?: string;
  /** Refused with ERR_UNSUPPORTED_OPTION (see above). */
  passwordHash?: string;
  /** Whatever the administrator keeps with the user (a full name, an employee id). */
  customData?: Document;
  /** Roles in the user's own database. Left out: an update keeps the user's roles, a creation gives none. */
  roles?: Role[];
  /** Roles in other databases, by database name; only for users of admin or $external. */
  otherDBRoles?: Record<string, Role[]>;
  /** Only '$external' (a user authenticated outside MongoDB, e.g. MONGODB-X509), created in $external; MongoDB 2.6 dropped the other uses. */
  userSource?: string;
}

/** UserNotFound: updateUser or dropUser of a user that does not exist. */
const USER_NOT_FOUND = 11;
/** Unauthorized: updateUser without a user yet; createUser may still pass (the localhost exception). */
const UNAUTHORIZED = 13;

type UserCommand = 'createUser' | 'updateUser';

/** Checks `user` as mgo's UpsertUser does, and says which database its commands run in. */
function checkUser(user: User, db: string): string {
  if (typeof user !== 'object' || user === null) throw new MgoError('ERR_INVALID_ARGUMENT', 'upsertUser(): expected a User object');
  if (typeof user.username !== 'string' || user.username === '') throw new MgoError('ERR_INVALID_ARGUMENT', 'upsertUser(): the user has no username');
  if (user.password !== undefined && typeof user.password !== 'string') throw new MgoError('ERR_INVALID_ARGUMENT', 'upsertUser(): the password must be a string');
  if (user.passwordHash !== undefined && user.passwordHash !== '') {
    throw new MgoError('ERR_UNSUPPORTED_OPTION', 'upsertUser(): passwordHash (an MD5 digest for servers before 2.6) is not supported; give the password');
  }
  if (user.userSource !== undefined && user.userSource !== '') {
    if (user.password) throw new MgoError('ERR_INVALID_ARGUMENT', 'upsertUser(): a user has either a password or a userSource, not both');
    if (user.userSource !== '$external') throw new MgoError('ERR_UNSUPPORTED_OPTION', `upsertUser(): userSource ${JSON.stringify(user.userSource)}: MongoDB 2.6+ supports only '$external'`);
    db = '$external';
  }
  if (user.otherDBRoles && Object.keys(user.otherDBRoles).length > 0 && db !== 'admin' && db !== '$external') {
    throw new MgoError('ERR_INVALID_ARGUMENT', 'upsertUser(): otherDBRoles are only for users of the admin or $external databases');
  }
  return db;
}

/**
 * The createUser or updateUser command for `user`, as mgo's runUserCmd
 * builds it: roles of other databases as { role, db }; roles sent when
 * given, and always (empty at least) to createUser, which requires them.
 */
export function userCommand(name: UserCommand, user: User): Document {
  const command: Document = { [name]: user.username };
  if (user.password) command.pwd = user.password;
  const roles: (Role | Document)[] = [...(user.roles ?? [])];
  for (const [db, dbRoles] of Object.entries(user.otherDBRoles ?? {})) for (const role of dbRoles) roles.push({ role, db });
  if (user.roles !== undefined || roles.length > 0 || name === 'createUser') command.roles = roles;
  if (user.customData !== undefined) command.customData = user.customData;
  return command;
}

/** Runs a user command on the primary; whatever the server echoes, the password stays out of the error. */
async function runUserCommand(database: Database, db: string, name: UserCommand, user: User): Promise<void> {
  try {
    await runCommand(database.session, db, userCommand(name, user), 'write');
  } catch (err) {
    throw redacted(err, user.password);
  }
}

/** `err`, with the password taken out of its message and stack and those of its causes (a QueryError wraps the ServerError). */
function redacted(err: unknown, password: string | undefined): unknown {
  if (!password) return err;
  const seen = new Set<unknown>();
  for (let e: unknown = err; e instanceof Error && !seen.has(e); e = e.cause) {
    seen.add(e);
    e.message = withoutSecrets(e.message, [password]);
    if (e.stack !== undefined) e.stack = withoutSecrets(e.stack, [password]);
  }
  return err;
}

function serverCodeOf(err: unknown): number | undefined {
  return err instanceof ServerError ? err.serverCode : undefined;
}

/**
 * mgo's UpsertUser: updateUser, and createUser when the server says the
 * user does not exist (or refuses the update as unauthorized, for the
 * localhost exception, where only a first user may be created).
 */
export async function upsertUser(database: Database, user: User): Promise<void> {
  const db = checkUser(user, database.name);
  try {
    await runUserCommand(database, db, 'updateUser', user);
  } catch (err) {
    const code = serverCodeOf(err);
    if (code !== USER_NOT_FOUND && code !== UNAUTHORIZED) throw err;
    await runUserCommand(database, db, 'createUser', user);
  }
}

/**
 * mgo's AddUser: upsertUser with mgo's roles for the old readOnly flag:
 * read or readWrite, on every database for a user of admin.
 */
export async function addUser(database: Database, username: string, password: string, readOnly: boolean): Promise<void> {
  if (typeof password !== 'string' || password === '') throw new MgoError('ERR_INVALID_ARGUMENT', 'addUser(): the password must be a non-empty string');
  const admin = database.name === 'admin';
  const role = readOnly ? (admin ? RoleReadAny : RoleRead) : admin ? RoleReadWriteAny : RoleReadWrite;
  const user: User = { username, password, roles: [role] };
  const db = checkUser(user, database.name);
  try {
    await runUserCommand(database, db, 'updateUser', user);
  } catch (err) {
    if (serverCodeOf(err) !== USER_NOT_FOUND) throw err;
    await runUserCommand(database, db, 'createUser', user);
  }
}

/** mgo's RemoveUser: dropUser; a user that does not exist is ErrNotFound. */
export async function removeUser(database: Database, username: string): Promise<void> {
  if (typeof username !== 'string' || username === '') throw new MgoError('ERR_INVALID_ARGUMENT', 'removeUser(): expected a user name');
  try {
    await runCommand(database.session, database.name, { dropUser: username }, 'write');
  } catch (err) {
    if (serverCodeOf(err) === USER_NOT_FOUND) throw ErrNotFound;
    throw err;
  }
}
