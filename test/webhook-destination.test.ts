import http from "node:http";
import type { LookupAddress } from "node:dns";
import { isIPv6 } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertPublicDestination, publicOnlyLookup, type Resolver } from "~/server/services/webhooks/destination";
import { startTestApp, type RegisteredAgent, type TestApp } from "./support/app";

// Outside dev mode a webhook may only point at a public host: we must not be made to POST into
// our own network (databases, metadata endpoints). Every way of writing a non-public address is
// listed here; each must be refused at registration (literal in the URL) and at connect time
// (a name that resolves to it). Dev mode allows local receivers.

/** Addresses that are not public, as they appear in a URL's host (IPv6 in brackets). */
const NOT_PUBLIC: [host: string, why: string][] = [
  ["127.0.0.1", "loopback"],
  ["10.1.2.3", "private"],
  ["172.20.0.5", "private"],
  ["192.168.1.10", "private"],
  ["169.254.169.254", "link-local (cloud metadata)"],
  ["100.64.0.1", "carrier-grade NAT"],
  ["0.0.0.0", "unspecified"],
  ["198.18.0.1", "benchmarking"],
  ["192.0.2.1", "documentation"],
  ["198.51.100.7", "documentation"],
  ["203.0.113.5", "documentation"],
  ["192.0.0.8", "IETF protocol assignments"],
  ["224.0.0.1", "multicast"],
  ["240.0.0.1", "reserved"],
  ["255.255.255.255", "broadcast"],
  ["0x7f.1", "loopback in hex"],
  ["2130706433", "loopback as one number"],
  ["0177.0.0.1", "loopback in octal"],
  ["127.1", "loopback, short form"],
  ["0x0a000001", "private as one hex number"],
  ["[::1]", "IPv6 loopback"],
  ["[::]", "IPv6 unspecified"],
  ["[fd12:3456::1]", "unique local"],
  ["[fe80::1]", "IPv6 link-local"],
  ["[fec0::1]", "deprecated site-local"],
  ["[ff02::1]", "IPv6 multicast"],
  ["[::ffff:10.0.0.1]", "IPv4-mapped private"],
  ["[::ffff:7f00:1]", "IPv4-mapped loopback in hex"],
  ["[::127.0.0.1]", "IPv4-compatible loopback"],
  ["[::ffff:0:7f00:1]", "SIIT (RFC 6145) loopback"],
  ["[64:ff9b::7f00:1]", "NAT64 of loopback"],
  ["[64:ff9b::10.0.0.1]", "NAT64 of a private address"],
  ["[64:ff9b:1::5db8:d822]", "local-use NAT64 (RFC 8215), even of a public address"],
  ["[2002:7f00:1::]", "6to4 of loopback"],
  ["[2002:a9fe:a9fe::1]", "6to4 of the metadata address"],
  ["[2001:0:4136:e378:8000:63bf:80ff:fffe]", "Teredo whose client is 127.0.0.1"],
  ["[2001:db8::1]", "IPv6 documentation"],
  ["[3fff::1]", "IPv6 documentation (RFC 9637)"],
  ["[2001:2::1]", "IPv6 benchmarking"],
  ["[100::1]", "discard-only"],
  ["[4000::1]", "outside global unicast space"],
];

/** Public addresses, some written in the forms above: they must still pass. */
const PUBLIC = [
  "93.184.216.34",
  "172.32.0.1",
  "[2606:2800:220:1:248:1893:25c8:1946]",
  "[::ffff:93.184.216.34]",
  "[64:ff9b::5db8:d822]",
  "[2002:5db8:d822::1]",
  "[2001:0:4136:e378:8000:63bf:f7f7:f7f7]",
];

const bare = (host: string) => new URL(`https://${host}/`).hostname.replace(/^\[|\]$/g, "");

/** A resolver answering every name with the given addresses, as DNS would for an attacker's name. */
const answering = (...addresses: string[]): Resolver => async () => addresses.map((address): LookupAddress => ({ address, family: isIPv6(address) ? 6 : 4 }));

async function refusal(url: string, resolve?: Resolver) {
  try {
    await assertPublicDestination(url, { allowPrivate: false, resolve });
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

function lookupThrough(resolve: Resolver, hostname: string, options: { all?: boolean; family?: number } = {}) {
  return new Promise<{ code?: string; message?: string; address?: unknown }>((done) => {
    publicOnlyLookup({ allowPrivate: false, resolve })(hostname, options as never, (err: NodeJS.ErrnoException | null, address: unknown) =>
      done(err ? { code: err.code, message: err.message } : { address }),
    );
  });
}

describe("webhook registration outside dev mode", () => {
  let app: TestApp;
  let agent: RegisteredAgent;

  beforeAll(async () => {
    // No embedded parts and no DEV_MODE: the app behaves as a real deployment.
    app = await startTestApp({ extraEnv: { EMBEDDED_PARTS: "", DEV_MODE: "" } });
    agent = await app.registerAgent("hook-prod");
  });
  afterAll(async () => {
    await app?.stop();
  });

  const register = (url: string) => app.api("POST", `/agents/${agent.agentId}/webhooks`, { key: agent.apiKey, body: { url } });

  it("refuses every non-public address form with a 400 naming url", async () => {
    for (const [host, why] of [...NOT_PUBLIC, ["localhost", "a name that resolves to loopback"]] as const) {
      const res = await register(`https://${host}/hook`);
      expect(res.status, `${host} (${why})`).toBe(400);
      expect(res.body.error.code).toBe("VALIDATION_FAILED");
      expect(res.body.error.details, host).toMatchObject({ field: "url", reason: "private" });
      expect(res.body.error.message, host).toMatch(/^url: .* non-public address/);
    }
    expect((await app.api("GET", `/agents/${agent.agentId}/webhooks`, { key: agent.apiKey })).body.webhooks).toEqual([]);
  });

  it("accepts public addresses, also when written as mapped, NAT64, 6to4 or Teredo forms of one", async () => {
    for (const host of PUBLIC) {
      const res = await register(`https://${host}/hook`);
      expect(res.status, `${host}: ${JSON.stringify(res.body)}`).toBe(201);
    }
    // Plain http is still refused outside dev mode.
    expect((await register("http://93.184.216.34/hook")).body.error.details).toMatchObject({ field: "url" });
  });
});

describe("the destination check by name", () => {
  it("refuses a name that resolves to any non-public address, even among public ones", async () => {
    for (const [host, why] of NOT_PUBLIC) {
      expect(await refusal("https://hooks.attacker.example/x", answering(bare(host))), why).toMatch(/non-public address/);
      expect(await refusal("https://hooks.attacker.example/x", answering("93.184.216.34", bare(host))), why).toMatch(/non-public address/);
    }
    expect(await refusal("https://hooks.attacker.example/x", answering())).toMatch(/non-public address \(no address\)/);
    for (const host of PUBLIC) expect(await refusal("https://hooks.example/x", answering(bare(host))), host).toBeNull();
  });

  it("allows anything in dev mode", async () => {
    await expect(assertPublicDestination("http://127.0.0.1:9999/hook", { allowPrivate: true })).resolves.toBeUndefined();
  });
});

describe("the delivery connection", () => {
  it("refuses, at connect time, a name resolving to any non-public address form (DNS rebinding)", async () => {
    for (const [host, why] of NOT_PUBLIC) {
      const address = bare(host);
      for (const options of [{}, { all: true }]) {
        const result = await lookupThrough(answering(address), "rebind.attacker.example", options);
        expect(result.code, `${host} (${why})`).toBe("EPRIVATEADDRESS");
        expect(result.message).toContain(address);
      }
      expect((await lookupThrough(answering("93.184.216.34", address), "rebind.attacker.example", { all: true })).code, why).toBe("EPRIVATEADDRESS");
    }
  });

  it("hands public addresses to the connection, of the family asked for", async () => {
    const resolve = answering("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946");
    expect(await lookupThrough(resolve, "hooks.example")).toEqual({ address: "93.184.216.34" });
    expect(await lookupThrough(resolve, "hooks.example", { family: 6 })).toEqual({ address: "2606:2800:220:1:248:1893:25c8:1946" });
    expect((await lookupThrough(resolve, "hooks.example", { all: true })).address).toHaveLength(2);
  });

  it("is refused on a real connection when the name resolves to a private address, and allowed in dev mode", async () => {
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
      expect(await get(false)).toMatch(/^error EPRIVATEADDRESS: 'localhost' resolves to a private, loopback or otherwise non-public address/);
      expect(hits).toBe(0);
      expect(await get(true)).toBe("status 200");
      expect(hits).toBe(1);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
