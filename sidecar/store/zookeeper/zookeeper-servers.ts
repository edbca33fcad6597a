import net from 'node:net';

export type ServerMode = 'leader' | 'follower' | 'observer' | 'standalone' | 'down' | 'unknown';

/** What `tokensync cluster status` says about one server of the ensemble. */
export interface ServerStatus {
  /** `host:port` as in `cluster.store.zookeeper.connect`. */
  server: string;
  /** From `srvr`; `down` when nothing answers, `unknown` when the server refuses four-letter words. */
  mode: ServerMode;
  version?: string;
  zxid?: string;
  connections?: number;
  nodes?: number;
  /** min/avg/max request latency in ms, as the server reports it. */
  latency?: string;
  /** True when this command's own session is connected to it (from `cons`): the server that answers us. */
  ours?: boolean;
  /** Why `mode` is `down` or `unknown`. */
  note?: string;
}

/**
 * Sends a four-letter word and reads the reply until the server closes the connection. Servers answer only
 * the words listed in `4lw.commands.whitelist` (ZooKeeper 3.5+ lists just `srvr` by default) and reply
 * "... is not executed because it is not in the whitelist." to the others.
 */
export function fourLetterWord(server: string, word: string, timeoutMs: number): Promise<string> {
  const colon = server.lastIndexOf(':');
  const host = server.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  const port = Number(server.slice(colon + 1));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ host, port });
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    socket.once('connect', () => socket.write(word));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('error', reject);
    socket.once('close', (hadError) => {
      if (!hadError) resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

const NOT_WHITELISTED = /not in the whitelist/i;

/** `srvr` (and, to find our own session, `cons`) on every server, in parallel; never throws. */
export async function probeServers(servers: string[], options: { sessionId?: string; timeoutMs?: number } = {}): Promise<ServerStatus[]> {
  const timeoutMs = options.timeoutMs ?? 1_000;
  return Promise.all(
    servers.map(async (server): Promise<ServerStatus> => {
      let reply: string;
      try {
        reply = await fourLetterWord(server, 'srvr', timeoutMs);
      } catch (err) {
        return { server, mode: 'down', note: (err as Error).message };
      }
      if (NOT_WHITELISTED.test(reply)) return { server, mode: 'unknown', note: "'srvr' is not in 4lw.commands.whitelist" };
      const status = parseSrvr(server, reply);
      if (options.sessionId && options.sessionId !== '0' && status.mode !== 'down') {
        try {
          const cons = await fourLetterWord(server, 'cons', timeoutMs);
          if (!NOT_WHITELISTED.test(cons)) status.ours = new RegExp(`sid=0x0*${options.sessionId.replace(/^0+/, '')}\\b`, 'i').test(cons);
        } catch {
          // `cons` is a nicety: the mode is what matters
        }
      }
      return status;
    }),
  );
}

export function parseSrvr(server: string, reply: string): ServerStatus {
  const field = (name: string) => new RegExp(`^${name}: (.*)$`, 'm').exec(reply)?.[1]?.trim();
  const mode = field('Mode');
  if (mode === undefined) {
    // "This ZooKeeper instance is not currently serving requests": up, but without a quorum
    return { server, mode: 'down', note: reply.trim().split('\n')[0] || 'no answer to srvr' };
  }
  const number = (v: string | undefined) => (v === undefined || !/^\d+$/.test(v) ? undefined : Number(v));
  const status: ServerStatus = {
    server,
    mode: (['leader', 'follower', 'observer', 'standalone'] as const).find((m) => m === mode) ?? 'unknown',
  };
  const version = field('Zookeeper version')?.split(/[-,\s]/)[0];
  if (version) status.version = version;
  const zxid = field('Zxid');
  if (zxid) status.zxid = zxid;
  const connections = number(field('Connections'));
  if (connections !== undefined) status.connections = connections;
  const nodes = number(field('Node count'));
  if (nodes !== undefined) status.nodes = nodes;
  const latency = field('Latency min/avg/max');
  if (latency) status.latency = latency;
  return status;
}
