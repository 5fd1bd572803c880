/**
 * Splits argv into positionals and `--flag value` / `--flag=value` pairs.
 * Flags may come before or after positionals. Boolean flags are listed so
 * they do not swallow the next word.
 */
export function parseArgs(argv: readonly string[], booleans: readonly string[] = []): { positionals: string[]; flags: Record<string, string> } {
  const positionals: string[] = [];
  const flags: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("--") || arg === "--") {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    if (eq > 0) flags[arg.slice(0, eq)] = arg.slice(eq + 1);
    else if (booleans.includes(arg)) flags[arg] = "true";
    else {
      const value = argv[i + 1];
      if (value === undefined) throw new Error(`${arg} needs a value`);
      flags[arg] = value;
      i++;
    }
  }
  return { positionals, flags };
}
