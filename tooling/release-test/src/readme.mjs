// README examples as a user copies them: the first code block after a heading, with the values a
// user would change (a port, a URL) replaced, so the test runs what the README shows.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { root } from "./workspace.mjs";

export function readmeExample(packageDir, heading) {
  const text = readFileSync(join(root, packageDir, "README.md"), "utf8");
  const start = text.indexOf(`\n${heading}\n`);
  if (start === -1) throw new Error(`${packageDir}/README.md has no "${heading}"`);
  const block = /```(?:ts|js)\n([\s\S]*?)```/.exec(text.slice(start));
  if (block === null) throw new Error(`no code block after "${heading}" in ${packageDir}/README.md`);
  return block[1];
}

/** Replaces `from` in an example, failing when the README no longer has it. */
export function replaceIn(example, from, to) {
  if (!example.includes(from)) throw new Error(`the example no longer contains ${from}:\n${example}`);
  return example.replace(from, to);
}
