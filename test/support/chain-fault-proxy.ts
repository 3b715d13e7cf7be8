import http from "node:http";

export type RpcFault = "none" | "down" | "slow" | "flaky";

export interface ChainFaultProxy {
  url: string;
  /** What the app's chain connection suffers from now on. */
  setFault(fault: RpcFault): void;
  readonly fault: RpcFault;
  /** Requests seen, and how many were refused, dropped or delayed. */
  stats: { requests: number; dropped: number; failed: number; delayed: number };
  close(): Promise<void>;
}

/**
 * A JSON-RPC proxy between the app and its chain that can take the chain away: `down` drops
 * every connection, `slow` delays each answer by 0.5–2.5 s, `flaky` answers 503 to about a third
 * of the requests, `none` forwards everything as it is.
 */
export async function startChainFaultProxy(target: string, random: () => number = Math.random): Promise<ChainFaultProxy> {
  let fault: RpcFault = "none";
  const stats = { requests: 0, dropped: 0, failed: 0, delayed: 0 };
  const server = http.createServer(async (req, res) => {
    stats.requests++;
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (fault === "down") {
      stats.dropped++;
      req.socket.destroy();
      return;
    }
    if (fault === "flaky" && random() < 0.33) {
      stats.failed++;
      res.writeHead(503, { "Content-Type": "text/plain" }).end("chain unavailable (chaos)");
      return;
    }
    if (fault === "slow") {
      stats.delayed++;
      await new Promise((r) => setTimeout(r, 500 + random() * 2_000));
    }
    try {
      const upstream = await fetch(target, { method: "POST", headers: { "Content-Type": "application/json" }, body: Buffer.concat(chunks) });
      res.writeHead(upstream.status, { "Content-Type": upstream.headers.get("content-type") ?? "application/json" });
      res.end(Buffer.from(await upstream.arrayBuffer()));
    } catch {
      req.socket.destroy();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    setFault(next) {
      fault = next;
    },
    get fault() {
      return fault;
    },
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
