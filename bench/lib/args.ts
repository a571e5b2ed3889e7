// Command-line options of the benchmark scripts: `--name value` pairs.

export function option(args: readonly string[], name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
}

/** An integer option of at least `min`; a clear error naming the option otherwise. */
export function integerOption(args: readonly string[], name: string, fallback: number, min = 1): number {
  const value = Number(option(args, name, String(fallback)));
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer of at least ${min}, got ${option(args, name, String(fallback))}`);
  return value;
}
