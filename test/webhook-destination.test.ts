import { describe, expect, it } from "vitest";
import { assertPublicDestination } from "~/server/services/webhooks/destination";

// Outside dev mode a webhook may only point at a public host: we must not be made to POST into
// our own network (databases, metadata endpoints). Dev mode allows local receivers.
describe("webhook destinations", () => {
  const refusal = async (url: string) => {
    try {
      await assertPublicDestination(url, { allowPrivate: false });
      return null;
    } catch (err) {
      return (err as Error).message;
    }
  };

  it("refuses loopback, private, link-local and mapped addresses, by literal or by name", async () => {
    for (const url of [
      "https://127.0.0.1/hook",
      "https://10.1.2.3/hook",
      "https://172.20.0.5:8443/hook",
      "https://192.168.1.10/hook",
      "https://169.254.169.254/latest/meta-data",
      "https://100.64.0.1/hook",
      "https://0.0.0.0/hook",
      "https://[::1]/hook",
      "https://[fd12:3456::1]/hook",
      "https://[fe80::1]/hook",
      "https://[::ffff:10.0.0.1]/hook",
      "https://localhost/hook",
    ]) {
      const message = await refusal(url);
      expect(message, url).toMatch(/^url: .* private or loopback address/);
    }
  });

  it("accepts public addresses, and anything in dev mode", async () => {
    expect(await refusal("https://93.184.216.34/hook")).toBeNull();
    expect(await refusal("https://[2606:2800:220:1:248:1893:25c8:1946]/hook")).toBeNull();
    expect(await refusal("https://172.32.0.1/hook")).toBeNull();
    await expect(assertPublicDestination("http://127.0.0.1:9999/hook", { allowPrivate: true })).resolves.toBeUndefined();
  });
});

describe("the delivery connection", () => {
  it("is refused when the name resolves to a private address at connect time (DNS rebinding), and allowed in dev mode", async () => {
    const http = await import("node:http");
    const { publicOnlyLookup } = await import("~/server/services/webhooks/destination");
    let hits = 0;
    const server = http.createServer((_req, res) => {
      hits += 1;
      res.writeHead(200).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    const get = (allowPrivate: boolean) =>
      new Promise<string>((resolve) => {
        // "localhost" is a name, so the connection resolves it through the lookup given here.
        const req = http.request(`http://localhost:${port}/hook`, { lookup: publicOnlyLookup({ allowPrivate }), family: 4 }, (res) => {
          res.resume();
          resolve(`status ${res.statusCode}`);
        });
        req.on("error", (err: NodeJS.ErrnoException) => resolve(`error ${err.code}: ${err.message}`));
        req.end();
      });
    try {
      expect(await get(false)).toMatch(/^error EPRIVATEADDRESS: 'localhost' resolves to a private or loopback address/);
      expect(hits).toBe(0);
      expect(await get(true)).toBe("status 200");
      expect(hits).toBe(1);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
