import { headers } from "next/headers";

// Rendered per request in the Workers runtime: no static HTML for this page exists in the output.
export const runtime = "edge";

export default async function Home() {
  const requestHeaders = await headers();
  // React escapes text content, so a marker such as "<b>" shows as text, never as markup.
  const marker = requestHeaders.get("x-demo-marker") ?? "(no x-demo-marker header)";
  const renderedAt = new Date().toISOString();

  return (
    <main>
      <h1>Hello from the edge</h1>
      <p>
        x-demo-marker: <code id="marker">{marker}</code>
      </p>
      <p>
        Rendered at <time id="rendered-at">{renderedAt}</time>
      </p>
      <p>
        Also here: <a href="/api/hello">/api/hello</a> (edge API route) and{" "}
        <a href="/hello.txt">/hello.txt</a> (static file).
      </p>
    </main>
  );
}
