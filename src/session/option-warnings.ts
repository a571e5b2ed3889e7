// What the connection string asked for that the driver does not do: an
// unknown key, a key only the options object may set, a repeated or
// deprecated key. The connection-string spec has the parser warn and go on;
// each warning reaches the application through process.emitWarning, once
// per dial() or parseURL(), so that no key is dropped without a word (a
// mistyped maxPoolSize silently left at its default is the surprise
// mgo-threads exists to remove).

/** The `code` of every such warning (process.on('warning') sees it as warning.code). */
export const OPTION_WARNING_CODE = 'MGO_CONNECTION_OPTION';

/** Emits each warning of one dial or parse; `where` names the call. */
export function emitOptionWarnings(where: string, warnings: readonly string[]): void {
  for (const warning of warnings) {
    process.emitWarning(`${where}: ${warning}`, { type: 'MgoThreadsWarning', code: OPTION_WARNING_CODE });
  }
}
