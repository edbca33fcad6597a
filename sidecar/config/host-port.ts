import { isIPv4, isIPv6 } from 'node:net';
import { ConfigError } from '../errors/config-error.js';

export interface HostPort {
  /** Host name or IP address; IPv6 without brackets. */
  host: string;
  port: number;
}

export interface HostPortRules {
  /** Used when the text has no port; without it a port is required. */
  defaultPort?: number;
  /** Lowest allowed port: 0 lets the OS pick one (listeners in tests). */
  minPort: 0 | 1;
}

// Underscores are not RFC 1123, but Docker and Compose hand them out as host names.
const LABEL = '[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?';
const HOST_NAME = new RegExp(`^(?=.{1,253}$)${LABEL}(?:\\.${LABEL})*$`);

/**
 * Parses `host:port`, `host` (with a default port) or `[ipv6]:port`.
 * @throws ConfigError (`config.invalid`, value = `text`, no key)
 */
export function parseHostPort(text: string, rules: HostPortRules): HostPort {
  const { host, portText } = splitHostPort(text);
  if (host === '') throw invalid(text, 'has no host');
  if (!isValidHost(host)) {
    throw invalid(text, `has an invalid host "${host}" (use a host name, an IPv4 address or [IPv6 address])`);
  }
  return { host, port: parsePort(text, portText, rules) };
}

/** `host:port`, with brackets around an IPv6 address. */
export function formatHostPort({ host, port }: HostPort): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export function isValidHost(host: string): boolean {
  if (host.includes(':')) return isIPv6(host);
  // All digits and dots is an IPv4 address or a mistake, never a host name.
  if (/^[\d.]+$/.test(host)) return isIPv4(host);
  return HOST_NAME.test(host);
}

function splitHostPort(text: string): { host: string; portText: string | undefined } {
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) throw invalid(text, 'has "[" without "]" (write [address]:port, e.g. [::1]:2181)');
    const rest = text.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) throw invalid(text, `has "${rest}" after "]" (expected :port)`);
    const host = text.slice(1, close);
    if (!isIPv6(host)) throw invalid(text, `has "${host}" in brackets, which is not an IPv6 address`);
    return { host, portText: rest === '' ? undefined : rest.slice(1) };
  }
  const colons = text.split(':').length - 1;
  if (colons > 1) throw invalid(text, 'looks like an IPv6 address without brackets (write [address]:port, e.g. [::1]:2181)');
  const colon = text.indexOf(':');
  return colon < 0 ? { host: text, portText: undefined } : { host: text.slice(0, colon), portText: text.slice(colon + 1) };
}

function parsePort(text: string, portText: string | undefined, { defaultPort, minPort }: HostPortRules): number {
  const allowed = `use a port from ${minPort} to 65535`;
  if (portText === undefined) {
    if (defaultPort === undefined) throw invalid(text, `has no port (write host:port, ${allowed})`);
    return defaultPort;
  }
  if (!/^\d+$/.test(portText)) throw invalid(text, `has port "${portText}", which is not a number (${allowed})`);
  const port = Number(portText);
  if (port < minPort || port > 65535) throw invalid(text, `has port ${port}, which is out of range (${allowed})`);
  return port;
}

function invalid(value: string, problem: string): ConfigError {
  return new ConfigError('config.invalid', problem, { value });
}
