import { lookup as systemLookup, type LookupAddress } from "node:dns";
import type { LookupFunction } from "node:net";
import ipaddr from "ipaddr.js";
import { AppError } from "~/server/errors";

// Webhook URLs come from agents: without this, one could point a webhook at the platform's own
// network (the database, a cloud metadata endpoint) and have us POST there. Checked when a
// webhook is registered, again before each delivery (DNS can change in between), and by the
// delivery's own connection (publicOnlyLookup), all through isPublicAddress.

/** Resolves a host name to all its addresses (node:dns lookup with `all: true` by default). */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) => systemLookup(hostname, { all: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))));

// Outside these, IANA has allocated no IPv6 unicast space to the public internet.
const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR("2000::/3") as [ipaddr.IPv6, number];
const NAT64_WELL_KNOWN = ipaddr.parseCIDR("64:ff9b::/96") as [ipaddr.IPv6, number];
// ::a.b.c.d, "IPv4-compatible" (deprecated by RFC 4291, but some stacks still route it as IPv4).
const IPV4_COMPATIBLE = ipaddr.parseCIDR("::/96") as [ipaddr.IPv6, number];

const ipv4From = (bytes: number[]) => new ipaddr.IPv4(bytes);

/**
 * The IPv4 addresses an IPv6 address carries and would deliver to (mapped, compatible, NAT64,
 * SIIT, 6to4, Teredo server and client); null when it carries none.
 */
function embeddedIpv4(address: ipaddr.IPv6, range: string): ipaddr.IPv4[] | null {
  const bytes = address.toByteArray();
  const last32 = bytes.slice(12, 16);
  switch (range) {
    case "ipv4Mapped":
    case "rfc6145":
      return [ipv4From(last32)];
    case "rfc6052":
      // Only the well-known /96 embeds an address at a fixed place; the local-use 64:ff9b:1::/48
      // (RFC 8215) is a private network's own translator and is refused below.
      return address.match(NAT64_WELL_KNOWN) ? [ipv4From(last32)] : null;
    case "6to4":
      return [ipv4From(bytes.slice(2, 6))];
    case "teredo":
      // 2001:0:<server v4>:<flags>:<port ^ ffff>:<client v4 ^ ffffffff>
      return [ipv4From(bytes.slice(4, 8)), ipv4From(last32.map((b) => b ^ 0xff))];
    default:
      return address.match(IPV4_COMPATIBLE) && range === "unicast" ? [ipv4From(last32)] : null;
  }
}

/**
 * Whether an address (any notation ipaddr.js reads: dotted, hex, octal, single number, IPv6 in
 * every form) is public unicast: IPv4 outside every special range (loopback, private, link-local,
 * carrier-grade NAT, benchmarking, documentation, multicast, reserved, ...), or IPv6 in global
 * unicast space outside every special range, where an IPv6 address that carries an IPv4 address
 * is judged by that IPv4 address. Anything unparsable is not public.
 */
export function isPublicAddress(address: string): boolean {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.parse(address);
  } catch {
    return false;
  }
  if (parsed.kind() === "ipv4") return parsed.range() === "unicast";
  const v6 = parsed as ipaddr.IPv6;
  const range = v6.range();
  const carried = embeddedIpv4(v6, range);
  if (carried) return carried.every((v4) => v4.range() === "unicast");
  return range === "unicast" && v6.match(GLOBAL_UNICAST_V6);
}

function hostOf(url: string): string {
  return new URL(url).hostname.replace(/^\[|\]$/g, "");
}

/** Refuses a URL whose host is, or resolves to, an address that is not public (isPublicAddress). */
export async function assertPublicDestination(url: string, { allowPrivate, resolve = systemResolver }: { allowPrivate: boolean; resolve?: Resolver }): Promise<void> {
  if (allowPrivate) return;
  const host = hostOf(url);
  let addresses: string[];
  try {
    addresses = ipaddr.isValid(host) ? [host] : (await resolve(host)).map((a) => a.address);
  } catch (err) {
    throw new AppError("VALIDATION_FAILED", `url: host '${host}' does not resolve (${(err as NodeJS.ErrnoException).code ?? "lookup failed"})`, { field: "url", reason: "unresolved" });
  }
  const blocked = addresses.length === 0 ? "no address" : addresses.find((a) => !isPublicAddress(a));
  if (blocked) {
    throw new AppError("VALIDATION_FAILED", `url: '${host}' is a private, loopback or otherwise non-public address (${blocked}); webhooks go to public hosts only`, { field: "url", reason: "private" });
  }
}

/**
 * A DNS lookup for the delivery's own connection that refuses any non-public address: the address
 * checked is the address connected to, so a name that changes its answer between the check at
 * registration and the POST (DNS rebinding) still cannot reach inside.
 */
export function publicOnlyLookup({ allowPrivate, resolve = systemResolver }: { allowPrivate: boolean; resolve?: Resolver }): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname).then(
      (resolved) => {
        const family = options.family === "IPv4" ? 4 : options.family === "IPv6" ? 6 : options.family;
        const wanted = family === 4 || family === 6 ? resolved.filter((a) => a.family === family) : resolved;
        if (wanted.length === 0) {
          return callback(Object.assign(new Error(`'${hostname}' has no usable address`), { code: "ENOTFOUND" }), "", 0);
        }
        const blocked = allowPrivate ? undefined : wanted.find((a) => !isPublicAddress(a.address));
        if (blocked) {
          return callback(Object.assign(new Error(`'${hostname}' resolves to a private, loopback or otherwise non-public address (${blocked.address})`), { code: "EPRIVATEADDRESS" }), "", 0);
        }
        if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, wanted);
        callback(null, wanted[0]!.address, wanted[0]!.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, "", 0),
    );
  };
}
