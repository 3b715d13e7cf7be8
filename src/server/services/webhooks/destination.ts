import { lookup as lookupCallback, type LookupAddress } from "node:dns";
import { lookup } from "node:dns/promises";
import { BlockList, isIP, type LookupFunction } from "node:net";
import { AppError } from "~/server/errors";

// Webhook URLs come from agents: without this, one could point a webhook at the platform's own
// network (the database, a cloud metadata endpoint) and have us POST there. Checked when a
// webhook is registered and again before each delivery (DNS can change in between).
const PRIVATE = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8], ["10.0.0.0", 8], ["100.64.0.0", 10], ["127.0.0.0", 8], ["169.254.0.0", 16], ["172.16.0.0", 12],
  ["192.0.0.0", 24], ["192.168.0.0", 16], ["198.18.0.0", 15], ["224.0.0.0", 3],
] as const) PRIVATE.addSubnet(net, prefix, "ipv4");
for (const [net, prefix] of [["::", 127], ["fc00::", 7], ["fe80::", 10], ["ff00::", 8]] as const) PRIVATE.addSubnet(net, prefix, "ipv6");

export function isPrivateAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped) return PRIVATE.check(mapped, "ipv4");
  return PRIVATE.check(address, isIP(address) === 6 ? "ipv6" : "ipv4");
}

/** Refuses a URL whose host is, or resolves to, a loopback, private or link-local address. */
export async function assertPublicDestination(url: string, { allowPrivate }: { allowPrivate: boolean }): Promise<void> {
  if (allowPrivate) return;
  const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
  let addresses: string[];
  try {
    addresses = isIP(host) ? [host] : (await lookup(host, { all: true })).map((a) => a.address);
  } catch (err) {
    throw new AppError("VALIDATION_FAILED", `url: host '${host}' does not resolve (${(err as NodeJS.ErrnoException).code ?? "lookup failed"})`, { field: "url", reason: "unresolved" });
  }
  const blocked = addresses.find(isPrivateAddress);
  if (blocked) {
    throw new AppError("VALIDATION_FAILED", `url: '${host}' is a private or loopback address (${blocked}); webhooks go to public hosts only`, { field: "url", reason: "private" });
  }
}

/**
 * A DNS lookup for the delivery's own connection that refuses private addresses: the address
 * checked is the address connected to, so a name that changes its answer between the check at
 * registration and the POST (DNS rebinding) still cannot reach inside.
 */
export function publicOnlyLookup({ allowPrivate }: { allowPrivate: boolean }): LookupFunction {
  return (hostname, options, callback) => {
    lookupCallback(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, "", 0);
      const all = addresses as LookupAddress[];
      const blocked = allowPrivate ? undefined : all.find((a) => isPrivateAddress(a.address));
      if (blocked) {
        return callback(Object.assign(new Error(`'${hostname}' resolves to a private or loopback address (${blocked.address})`), { code: "EPRIVATEADDRESS" }), "", 0);
      }
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, all);
      callback(null, all[0]!.address, all[0]!.family);
    });
  };
}
