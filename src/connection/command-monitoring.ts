// What a connection's command events show of a command and its outcome
// (command-logging-and-monitoring spec, "Command Monitoring"): the command
// as sent, with its OP_MSG document sequences folded in as arrays ("Why are
// document sequences included as BSON arrays?"), the reply decoded, and the
// redaction the spec's "Security" section asks for. Only built while
// someone listens (CommandEventOutlet.wanted()).
import { BSON, type DeserializeOptions, type Document } from 'bson';
import { MgoError, ServerError } from '../errors.js';
import { sequenceDocuments, type OutgoingSequence } from '../wire/op-msg.js';

/**
 * Spec, "Security": commands whose command and reply are replaced by {} in
 * events and logs. Lower case, matched case-insensitively: redacting a
 * differently spelled name costs nothing, showing one would leak.
 */
const SENSITIVE_COMMANDS = new Set(['authenticate', 'saslstart', 'saslcontinue', 'getnonce', 'createuser', 'updateuser', 'copydbgetnonce', 'copydbsaslstart', 'copydb']);
/** hello and both casings of legacy hello (handshake spec), sensitive when they carry speculativeAuthenticate. */
const HELLO_COMMANDS = new Set(['hello', 'ismaster']);

/** Whether a command of this name is always redacted (hello only with speculativeAuthenticate: isSensitiveCommand). */
export function isSensitiveCommandName(commandName: string): boolean {
  return SENSITIVE_COMMANDS.has(commandName.toLowerCase());
}

/** Whether the spec's redaction applies to this command. */
export function isSensitiveCommand(commandName: string, command: Document): boolean {
  if (isSensitiveCommandName(commandName)) return true;
  return HELLO_COMMANDS.has(commandName.toLowerCase()) && command.speculativeAuthenticate !== undefined;
}

/**
 * How a command's BSON is decoded for its event (a worker's command as it
 * crosses, the documents of a sequence serialized ahead): an int64 stays a
 * Long, as the caller wrote it (a number is never serialized as an int64),
 * so that the event shows the same types with workers 0 and N.
 */
export const COMMAND_EVENT_DESERIALIZE: DeserializeOptions = { promoteLongs: false };

/** The command as it goes on the wire: its body ($db and the Stable API fields included) and each document sequence as an array under its identifier. */
export function commandAsSent(body: Document, sequences: readonly OutgoingSequence[] | undefined): Document {
  if (sequences === undefined || sequences.length === 0) return body;
  const command: Document = { ...body };
  for (const sequence of sequences) command[sequence.identifier] = sequenceDocuments(sequence, COMMAND_EVENT_DESERIALIZE);
  return command;
}

/**
 * A reply's (or, across threads, a command's) bytes decoded for an event.
 * Never throws: the operation's own decoding (or, in a worker, its check of
 * the bytes) already judged the reply, and an event must not fail a
 * command that succeeded. A value js-bson cannot make a JavaScript value of
 * (a PCRE-only regex) is kept as a BSONRegExp; bytes that still do not
 * decode give {}.
 */
export function documentForEvent(body: Uint8Array, options: DeserializeOptions = {}): Document {
  try {
    return BSON.deserialize(body, options);
  } catch {
    try {
      return BSON.deserialize(body, { ...options, bsonRegExp: true });
    } catch {
      return {};
    }
  }
}

/**
 * The failure of a sensitive command as its event shows it (spec,
 * "Security"): a server's error keeps only its code, codeName and error
 * labels; any other error (the network's) says nothing of the command.
 */
export function redactedFailure(error: unknown): unknown {
  if (!(error instanceof ServerError)) return error;
  const labels = [...error.errorLabels];
  return new ServerError('(redacted: a security-sensitive command)', error.serverCode, error.codeName, { errorLabels: labels, address: error.address });
}

/** An error as a CommandFailedEvent carries it: an Error always. */
export function failureOf(error: unknown): Error {
  return error instanceof Error ? error : new MgoError('ERR_PROTOCOL', String(error));
}
