#!/usr/bin/env node
// Serve one Butterbase edge-SSR deployment output on 127.0.0.1 with Miniflare (real workerd).
//
//   node serve.mjs --site DIR --port N --runtime RUNTIME_DIR [--vars FILE.json] [--probe-token TOKEN]
//
// Mirrors what Butterbase's deploy does on Workers for Platforms (see docs/RUNTIME.md):
// - `_worker.js` is either one ES module file or a folder whose .js/.mjs files are ES modules and
//   .wasm files are compiled Wasm modules (keys relative to the folder, entry `index.js`); other files
//   in the folder are dropped, as the real deploy drops them.
// - every file outside `_worker.js` is a static asset, reachable from the worker as `env.ASSETS`, and
//   served before the worker for GET/HEAD requests that match one (Workers static assets default),
//   with `html_handling: auto-trailing-slash`.
// - compatibility date 2025-01-24, flag nodejs_compat; plain-text vars from --vars as bindings.
//
// Prints "[serve] ready http://127.0.0.1:PORT" once workerd listens; exits non-zero when the worker
// cannot be loaded. Exits on SIGTERM/SIGINT, and when its parent process goes away.

import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const COMPATIBILITY_DATE = "2025-01-24";
const COMPATIBILITY_FLAGS = ["nodejs_compat"];
const WORKER_NAME = "_worker.js";
const PROBE_HEADER = "x-butterbase-emulator-probe";
const MISS_HEADER = "x-butterbase-emulator-asset-miss";

const CONTENT_TYPES = {
  ".html": "text/html; charset=utf-8",
  ".htm": "text/html; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".xml": "application/xml; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".avif": "image/avif",
  ".ico": "image/x-icon",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".ttf": "font/ttf",
  ".otf": "font/otf",
  ".wasm": "application/wasm",
  ".pdf": "application/pdf",
  ".webmanifest": "application/manifest+json",
};

function fail(message) {
  console.error(`[serve] error: ${message}`);
  process.exit(2);
}

const { values: args } = parseArgs({
  options: {
    site: { type: "string" },
    port: { type: "string" },
    runtime: { type: "string" },
    vars: { type: "string" },
    "probe-token": { type: "string" },
  },
});
if (!args.site || !args.port || !args.runtime) {
  fail("usage: serve.mjs --site DIR --port N --runtime RUNTIME_DIR [--vars FILE] [--probe-token T]");
}
const siteDir = path.resolve(args.site);
let siteRoot;
try {
  siteRoot = fs.realpathSync(siteDir);
} catch {
  fail(`no such folder: ${siteDir}`);
}
const workerRoot = path.join(siteRoot, WORKER_NAME);
const port = Number.parseInt(args.port, 10);
if (!Number.isInteger(port) || port <= 0 || port > 65535) fail(`bad port ${args.port}`);

async function loadMiniflare(runtimeDir) {
  const require = createRequire(path.join(path.resolve(runtimeDir), "package.json"));
  let entry;
  try {
    entry = require.resolve("miniflare");
  } catch {
    fail(`miniflare is not installed in ${runtimeDir} (run scripts/runtime-install.sh)`);
  }
  return import(pathToFileURL(entry).href);
}

function listFiles(dir) {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => path.join(d.parentPath ?? d.path, d.name))
    .sort();
}

// The worker's modules, entry first, the way Butterbase's extractWorker picks them.
function workerModules() {
  const workerPath = path.join(siteDir, WORKER_NAME);
  let stat;
  try {
    stat = fs.statSync(workerPath);
  } catch {
    fail(`no ${WORKER_NAME} in ${siteDir}`);
  }
  if (stat.isFile()) {
    return { modulesRoot: siteDir, modules: [{ type: "ESModule", path: workerPath }] };
  }
  const entry = path.join(workerPath, "index.js");
  if (!fs.existsSync(entry)) fail(`${WORKER_NAME} is a folder without index.js`);
  const modules = [{ type: "ESModule", path: entry }];
  const dropped = [];
  for (const file of listFiles(workerPath)) {
    if (file === entry) continue;
    const ext = path.extname(file).toLowerCase();
    if (ext === ".js" || ext === ".mjs") modules.push({ type: "ESModule", path: file });
    else if (ext === ".wasm") modules.push({ type: "CompiledWasm", path: file });
    else dropped.push(path.relative(workerPath, file));
  }
  if (dropped.length) {
    console.log(`[serve] not modules (dropped like the real deploy does): ${dropped.join(", ")}`);
  }
  return { modulesRoot: workerPath, modules };
}

// Resolve a URL path to an asset file under siteDir (never inside _worker.js), following
// html_handling "auto-trailing-slash": /a serves a.html or redirects to /a/ when a/index.html exists;
// /a/ serves a/index.html or redirects to /a when a.html exists; /a.html and /a/index.html redirect
// to their short forms.
function isAssetFile(rel) {
  if (rel === "" || rel.startsWith("/")) return false;
  const parts = rel.split("/");
  if (parts.some((p) => p === "" || p === "." || p === "..")) return false;
  if (parts[0] === WORKER_NAME) return false;
  try {
    const real = fs.realpathSync(path.join(siteDir, ...parts));
    // A symlink must not reach outside the output, nor into the worker's modules.
    if (!real.startsWith(siteRoot + path.sep) || real.startsWith(workerRoot + path.sep)) return false;
    return fs.statSync(real).isFile();
  } catch {
    return false;
  }
}

function resolveAsset(pathname) {
  let decoded;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return null;
  }
  if (decoded.includes("\0") || decoded.includes("\\")) return null;
  const rel = decoded.replace(/^\/+/, "");
  if (rel.endsWith("/") || rel === "") {
    const base = rel.replace(/\/+$/, "");
    const index = base ? `${base}/index.html` : "index.html";
    if (isAssetFile(index)) return { file: index };
    if (base && isAssetFile(`${base}.html`)) return { redirect: `/${base}` };
    return null;
  }
  if (rel.endsWith("/index.html") || rel === "index.html") {
    if (isAssetFile(rel)) return { redirect: `/${rel.slice(0, -"index.html".length)}` };
  } else if (rel.endsWith(".html")) {
    if (isAssetFile(rel)) return { redirect: `/${rel.slice(0, -".html".length)}` };
  }
  if (isAssetFile(rel)) return { file: rel };
  if (isAssetFile(`${rel}.html`)) return { file: `${rel}.html` };
  if (isAssetFile(`${rel}/index.html`)) return { redirect: `/${rel}/` };
  return null;
}

function assetsHandler(Response, { markMiss }) {
  return async (request) => {
    const url = new URL(request.url);
    const method = request.method.toUpperCase();
    if (method !== "GET" && method !== "HEAD") {
      return new Response("Method Not Allowed", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    const found = resolveAsset(url.pathname);
    if (!found) {
      const headers = { "content-type": "text/plain; charset=utf-8" };
      if (markMiss) headers[MISS_HEADER] = "1";
      return new Response(method === "HEAD" ? null : "Not Found", { status: 404, headers });
    }
    if (found.redirect) {
      return new Response(null, { status: 307, headers: { location: found.redirect + url.search } });
    }
    const filePath = path.join(siteDir, ...found.file.split("/"));
    const body = fs.readFileSync(filePath);
    const type = CONTENT_TYPES[path.extname(filePath).toLowerCase()] ?? "application/octet-stream";
    const headers = { "content-type": type, "content-length": String(body.length) };
    return new Response(method === "HEAD" ? null : body, { status: 200, headers });
  };
}

// Entry worker: answers the emulator's readiness probe, serves matching assets first, then hands
// the request to the deployed worker.
const ROUTER_SCRIPT = `
export default {
  async fetch(request, env) {
    if (env.PROBE_TOKEN && request.headers.get(${JSON.stringify(PROBE_HEADER)}) === env.PROBE_TOKEN) {
      return new Response(null, { status: 204 });
    }
    if (request.method === "GET" || request.method === "HEAD") {
      const asset = await env.ASSETS_FIRST.fetch(request.url, {
        method: request.method, headers: request.headers, redirect: "manual",
      });
      if (!asset.headers.has(${JSON.stringify(MISS_HEADER)})) return asset;
    }
    return env.APP.fetch(request);
  },
};
`;

function readVars(file) {
  if (!file) return {};
  const vars = JSON.parse(fs.readFileSync(file, "utf8"));
  if (typeof vars !== "object" || vars === null || Array.isArray(vars)) fail("--vars must hold a JSON object");
  for (const [k, v] of Object.entries(vars)) {
    if (typeof v !== "string") fail(`var ${k} is not a string (Butterbase binds plain_text only)`);
  }
  return vars;
}

const { Miniflare, Log, LogLevel, Response } = await loadMiniflare(args.runtime);
const { modules, modulesRoot } = workerModules();
const vars = readVars(args.vars);

const mf = new Miniflare({
  host: "127.0.0.1",
  port,
  cf: false,
  liveReload: false,
  log: new Log(LogLevel.INFO),
  workers: [
    {
      name: "butterbase-router",
      modules: true,
      script: ROUTER_SCRIPT,
      compatibilityDate: COMPATIBILITY_DATE,
      bindings: { PROBE_TOKEN: args["probe-token"] ?? "" },
      serviceBindings: {
        ASSETS_FIRST: assetsHandler(Response, { markMiss: true }),
        APP: "app",
      },
    },
    {
      name: "app",
      modules,
      modulesRoot,
      compatibilityDate: COMPATIBILITY_DATE,
      compatibilityFlags: COMPATIBILITY_FLAGS,
      bindings: vars,
      serviceBindings: { ASSETS: assetsHandler(Response, { markMiss: false }) },
    },
  ],
});

let stopping = false;
async function shutdown(code) {
  if (stopping) return;
  stopping = true;
  try {
    await mf.dispose();
  } catch {
    // exiting anyway; the process group kill takes care of workerd
  }
  process.exit(code);
}
// Miniflare's exit hook kills workerd and exits at once on SIGTERM/SIGINT, without waiting for it;
// workerd is then re-parented and can linger as a zombie where init does not reap. Dispose instead,
// which waits for workerd to exit.
process.removeAllListeners("SIGTERM");
process.removeAllListeners("SIGINT");
process.on("SIGTERM", () => shutdown(0));
process.on("SIGINT", () => shutdown(0));

try {
  await mf.ready;
} catch (err) {
  console.error(`[serve] the worker failed to start: ${err?.stack ?? err}`);
  await shutdown(1);
}
console.log(`[serve] ${modules.length} module(s) from ${path.basename(modulesRoot)}`);
console.log(`[serve] ready http://127.0.0.1:${port}`);

// When the emulator dies without stopping us, we are re-parented: go away instead of leaking workerd.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) shutdown(0);
}, 1000).unref();
