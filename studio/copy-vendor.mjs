// Copies the third-party files the studio serves from node_modules (installed by
// `npm ci` from package-lock.json) into web/vendor/. With --check it changes
// nothing and exits 1 when web/vendor/ differs from what a copy would write.
import { readFileSync, writeFileSync, readdirSync, mkdirSync, existsSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const target = join(here, "web", "vendor");

// vendor/ name -> file inside node_modules
const FILES = {
  "react.production.min.js": "react/umd/react.production.min.js",
  "react-dom.production.min.js": "react-dom/umd/react-dom.production.min.js",
  "graphiql.min.js": "graphiql/graphiql.min.js",
  "graphiql.min.css": "graphiql/graphiql.min.css",
  "LICENSE.react.txt": "react/LICENSE",
  "LICENSE.graphiql.txt": "graphiql/LICENSE",
};

const check = process.argv.includes("--check");
const problems = [];
if (!check) mkdirSync(target, { recursive: true });
for (const [name, source] of Object.entries(FILES)) {
  const wanted = readFileSync(join(here, "node_modules", source));
  const path = join(target, name);
  if (check) {
    if (!existsSync(path)) problems.push(`${name} is missing`);
    else if (!readFileSync(path).equals(wanted)) problems.push(`${name} differs from ${source}`);
  } else {
    writeFileSync(path, wanted);
  }
}
const extra = existsSync(target) ? readdirSync(target).filter((n) => !(n in FILES)) : [];
for (const name of extra) problems.push(`${name} is not a vendored file`);
if (problems.length) {
  console.error(`studio/web/vendor/ is not what package-lock.json gives:\n  ${problems.join("\n  ")}`);
  console.error("Run `cd studio && npm ci && npm run vendor` and commit studio/web/vendor/.");
  process.exit(1);
}
console.log(check ? "studio/web/vendor/ matches package-lock.json" : "copied into studio/web/vendor/");
