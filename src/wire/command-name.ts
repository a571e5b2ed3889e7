// A command's name is its document's first key (OP_MSG: "the first element
// of the body section"), read without building the array of every key.
import type { Document } from 'bson';

export function commandName(command: Document): string {
  for (const key in command) return key;
  return 'command';
}
