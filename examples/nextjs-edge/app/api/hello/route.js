export const runtime = "edge";

export async function GET(request) {
  return Response.json({
    message: "hello from an edge API route",
    marker: request.headers.get("x-demo-marker"),
    time: new Date().toISOString(),
  });
}
