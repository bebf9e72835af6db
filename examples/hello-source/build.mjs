// Build the Workers output into dist/: dist/_worker.js (ES module worker) and the files of public/.
// No dependencies, so `npm install` is instant and works offline.
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, "dist");

const build = {
  builtAt: new Date().toISOString(),
  // Set at build time (Butterbase passes the deployment's build env to `npm run build`).
  label: process.env.BUILD_LABEL ?? "",
  node: process.version,
};

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
cpSync(join(root, "public"), dist, { recursive: true });

// A function replacement, so "$&" and friends in the label stay literal.
const worker = readFileSync(join(root, "src", "worker.js"), "utf8").replace("/*__BUILD__*/ {}", () =>
  JSON.stringify(build),
);
writeFileSync(join(dist, "_worker.js"), worker);
console.log(`built dist/_worker.js at ${build.builtAt}${build.label ? ` (${build.label})` : ""}`);
