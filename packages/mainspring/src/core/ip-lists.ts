import { BlockList, isIP } from 'node:net';

/**
 * Lists of addresses and networks in the settings (`superuserIPs`,
 * `rateLimits.excludedIPs`): `203.0.113.7`, `10.0.0.0/8`, `2001:db8::/32`,
 * `::1`. Each entry is checked when the settings are saved, so a list in
 * force holds only entries Node's BlockList reads; a client address is
 * matched as IPv4 when it is an IPv4-mapped IPv6 one (`::ffff:10.1.2.3`, what
 * a dual-stack listener reports).
 */

/** The most entries one list may hold. */
export const MAX_IP_LIST = 1000;

/** Why an entry is not an address or a network, or null when it is one. */
export function ipEntryProblem(entry: unknown): string | null {
  if (typeof entry !== 'string' || entry.length === 0 || entry.length > 100 || entry.includes('%')) {
    return 'is not an address or a CIDR network';
  }
  const [address, bits, ...rest] = entry.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || rest.length > 0) return 'is not an address or a CIDR network';
  if (bits === undefined) return null;
  const max = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return `has a prefix length that is not 0 to ${max}`;
  return null;
}

/** `::ffff:1.2.3.4` as `1.2.3.4`; `[::1]` and an `:port` after an IPv4 address or a bracketed IPv6 one taken off. */
export function normalizeIp(raw: string): string {
  let ip = raw.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(ip);
  if (bracketed) ip = bracketed[1] as string;
  else if (/^\d{1,3}(\.\d{1,3}){3}:\d+$/.test(ip)) ip = ip.slice(0, ip.lastIndexOf(':'));
  const mapped = /^::ffff:(\d{1,3}(\.\d{1,3}){3})$/i.exec(ip);
  return mapped ? (mapped[1] as string) : ip;
}

/** A list of networks, ready to match addresses against. */
export class IpList {
  private readonly blocks = new BlockList();
  readonly size: number;

  constructor(entries: readonly string[]) {
    this.size = entries.length;
    for (const entry of entries) {
      if (ipEntryProblem(entry) !== null) continue;
      const [address, bits] = entry.split('/') as [string, string | undefined];
      const family = isIP(address) === 4 ? 'ipv4' : 'ipv6';
      try {
        if (bits === undefined) this.blocks.addAddress(address, family);
        else this.blocks.addSubnet(address, Number(bits), family);
      } catch {
        // checked when saved; an entry Node still refuses matches nothing
      }
    }
  }

  /** Whether the address is in one of the list's networks; an address that cannot be read is in none. */
  has(rawIp: string): boolean {
    const ip = normalizeIp(rawIp);
    const family = isIP(ip);
    if (family === 0) return false;
    return this.blocks.check(ip, family === 4 ? 'ipv4' : 'ipv6');
  }
}

const lists = new WeakMap<readonly string[], IpList>();

/** The list of `entries`, built once per settings array (a settings change replaces the arrays). */
export function ipListOf(entries: readonly string[]): IpList {
  let list = lists.get(entries);
  if (!list) {
    list = new IpList(entries);
    lists.set(entries, list);
  }
  return list;
}
