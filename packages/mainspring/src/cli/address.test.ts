import type { NetworkInterfaceInfo } from 'node:os';
import { describe, expect, test } from 'vitest';
import { linkHost } from './address.js';

/** The printed links of `serve` (the install link above all) point where a browser can go. */

const nic = (address: string, family: 'IPv4' | 'IPv6', internal: boolean) => ({ address, family, internal }) as NetworkInterfaceInfo;
const machine = {
  lo: [nic('127.0.0.1', 'IPv4', true), nic('::1', 'IPv6', true)],
  eth0: [nic('fe80::1', 'IPv6', false), nic('10.1.2.3', 'IPv4', false)],
};

describe('linkHost', () => {
  test('a wildcard address shows the first outside IPv4 address', () => {
    expect(linkHost('0.0.0.0', machine)).toBe('10.1.2.3');
    expect(linkHost('::', machine)).toBe('10.1.2.3');
  });

  test('without one, localhost', () => {
    expect(linkHost('0.0.0.0', { lo: machine.lo })).toBe('localhost');
  });

  test('a given address is shown as it is, IPv6 in brackets', () => {
    expect(linkHost('127.0.0.1', machine)).toBe('127.0.0.1');
    expect(linkHost('::1', machine)).toBe('[::1]');
    expect(linkHost('example.test', machine)).toBe('example.test');
  });
});
