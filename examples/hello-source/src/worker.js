// ES module worker: the page at / is rendered per request; other paths are static files from the
// ASSETS binding (everything in dist/ except _worker.js).
const BUILD = /*__BUILD__*/ {};

const escapeHtml = (s) =>
  String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

function page(request) {
  const marker = request.headers.get("x-demo-marker") ?? "(no x-demo-marker header)";
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Hello from source</title></head>
<body>
<h1>Hello from a worker built by Butterbase</h1>
<p>x-demo-marker: <code id="marker">${escapeHtml(marker)}</code></p>
<p>Built at <time id="built-at">${escapeHtml(BUILD.builtAt)}</time>${
    BUILD.label ? ` — build label <code id="build-label">${escapeHtml(BUILD.label)}</code>` : ""
  }</p>
<p>Rendered at <time id="rendered-at">${new Date().toISOString()}</time></p>
<p>Static file: <a href="/hello.txt">/hello.txt</a></p>
</body>
</html>
`;
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/" || url.pathname === "/index.html") {
      return new Response(page(request), { headers: { "content-type": "text/html; charset=utf-8" } });
    }
    if (url.pathname === "/api/build") {
      return Response.json(BUILD);
    }
    const asset = await env.ASSETS.fetch(request);
    if (asset.status !== 404) return asset;
    return new Response("Not found\n", { status: 404, headers: { "content-type": "text/plain; charset=utf-8" } });
  },
};
