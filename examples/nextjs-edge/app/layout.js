export const metadata = {
  title: "Butterbase edge SSR example",
  description: "Server-rendered at the edge by a Next.js App Router app",
};

export default function RootLayout({ children }) {
  return (
    <html lang="en">
      <body style={{ fontFamily: "system-ui, sans-serif", margin: "2rem" }}>{children}</body>
    </html>
  );
}
