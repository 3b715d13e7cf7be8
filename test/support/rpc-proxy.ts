import http from "node:http";
import type { AddressInfo } from "node:net";

export interface RpcProxy {
  url: string;
  /** JSON-RPC methods asked through the proxy, in order. */
  methods: string[];
  close(): Promise<void>;
}

/**
 * A JSON-RPC proxy in front of a node: it counts what is asked, and with `maxLogBlockRange`
 * refuses eth_getLogs over a wider range the way hosted nodes do ("query exceeds max block range").
 */
export async function startRpcProxy(targetUrl: string, { maxLogBlockRange }: { maxLogBlockRange?: number } = {}): Promise<RpcProxy> {
  const methods: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const calls = ([] as Array<{ id: unknown; method: string; params?: Array<{ fromBlock?: string; toBlock?: string }> }>).concat(JSON.parse(body));
      methods.push(...calls.map((c) => c.method));
      const refused = calls.find((c) => {
        const filter = c.method === "eth_getLogs" ? c.params?.[0] : undefined;
        return maxLogBlockRange !== undefined && filter?.fromBlock && filter.toBlock && BigInt(filter.toBlock) - BigInt(filter.fromBlock) + 1n > BigInt(maxLogBlockRange);
      });
      if (refused) {
        res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: refused.id, error: { code: -32602, message: `query exceeds max block range ${maxLogBlockRange}` } }));
        return;
      }
      const upstream = await fetch(targetUrl, { method: "POST", headers: { "Content-Type": "application/json" }, body });
      res.writeHead(upstream.status, { "Content-Type": "application/json" }).end(await upstream.text());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    methods,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
