import ipaddr from "ipaddr.js";

/** The address of a request whose door had no socket (Next alone) and trusts no proxy. */
export const UNKNOWN_ADDRESS = "unknown";

/**
 * The address a per-address budget is counted against.
 *
 * The socket's peer, unless `trustedProxies` (TRUST_PROXY) proxies in front of the app each
 * append the address they saw to X-Forwarded-For: then the entry that many places from the
 * right of `X-Forwarded-For, peer`. Entries further left were written by the client and are
 * never believed; with TRUST_PROXY=0 the header is ignored (anyone can send one).
 *
 * IPv4-mapped IPv6 counts as its IPv4 address, and IPv6 counts per /64: one host usually holds a
 * whole /64, so counting single IPv6 addresses would hand it 2^64 budgets.
 */
export function clientAddressOf({ peer, forwardedFor, trustedProxies }: { peer: string | undefined; forwardedFor: string | null; trustedProxies: number }): string {
  const address = believedAddress({ peer, forwardedFor, trustedProxies });
  return address ? budgetAddress(address) ?? budgetAddress(peer ?? "") ?? UNKNOWN_ADDRESS : UNKNOWN_ADDRESS;
}

/** The same choice of address, whole (no /64), for the access log. */
export function clientIpOf({ peer, forwardedFor, trustedProxies }: { peer: string | undefined; forwardedFor: string | null; trustedProxies: number }): string {
  for (const candidate of [believedAddress({ peer, forwardedFor, trustedProxies }), peer]) {
    if (candidate && ipaddr.isValid(candidate)) return ipaddr.process(candidate).toString();
  }
  return UNKNOWN_ADDRESS;
}

function believedAddress({ peer, forwardedFor, trustedProxies }: { peer: string | undefined; forwardedFor: string | null; trustedProxies: number }): string | undefined {
  if (trustedProxies <= 0 || !forwardedFor) return peer;
  const hops = [
    ...forwardedFor
      .split(",")
      .map((entry) => entry.trim())
      .filter(Boolean),
    ...(peer ? [peer] : []),
  ];
  return hops[Math.max(hops.length - 1 - trustedProxies, 0)];
}

function budgetAddress(text: string): string | undefined {
  if (!ipaddr.isValid(text)) return undefined;
  const address = ipaddr.process(text);
  if (address.kind() === "ipv4") return address.toString();
  const parts = (address as ipaddr.IPv6).parts.slice(0, 4).map((part) => part.toString(16));
  return `${parts.join(":")}::/64`;
}
