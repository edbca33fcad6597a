import net, { type AddressInfo, type Socket } from 'node:net';

export interface TcpProxyOptions {
  /** Where every accepted connection is forwarded, e.g. one ZooKeeper server's client port. */
  targetHost: string;
  targetPort: number;
  /** Loopback address to listen on. @default '127.0.0.1' */
  listenHost?: string;
}

/**
 * A TCP forwarder on loopback that a test controls: the network between a sidecar and one ZooKeeper server,
 * without root, iptables or network namespaces.
 *
 * - `cut()`: every connection through it is reset at once, and new ones are reset as soon as they are accepted
 *   (the client sees ECONNRESET, as from a peer that went away or a firewall rejecting);
 * - `blackhole()`: connections stay open but nothing passes in either direction and new ones hang (packets
 *   dropped: the client only notices from its own timeouts, like a partition);
 * - `muteReplies()`: what clients send still reaches the server, every answer is dropped (requests are served, their
 *   answers lost: a write applied but never acknowledged);
 * - `restore()`: forwards again (connections cut, blackholed or muted before are not revived: clients reconnect).
 *
 * The listening port stays the same for the life of the proxy, so a connect string pointing at it stays valid.
 */
export class TcpProxy implements AsyncDisposable {
  private server: net.Server | undefined;
  private readonly pairs = new Set<{ client: Socket; upstream: Socket }>();
  private readonly held = new Set<Socket>();
  private mode: 'open' | 'cut' | 'blackhole' | 'mute' = 'open';
  private readonly muted = new Set<{ client: Socket; upstream: Socket }>();
  private accepted = 0;
  port = 0;

  constructor(private readonly options: TcpProxyOptions) {}

  get host(): string {
    return this.options.listenHost ?? '127.0.0.1';
  }

  /** `host:port` of the proxy, for a connect string. */
  get address(): string {
    return `${this.host}:${this.port}`;
  }

  get state(): 'open' | 'cut' | 'blackhole' | 'mute' {
    return this.mode;
  }

  /** Connections accepted so far (whatever became of them). */
  get connectionsAccepted(): number {
    return this.accepted;
  }

  /** Connections currently forwarded. */
  get openConnections(): number {
    return this.pairs.size;
  }

  async start(): Promise<this> {
    if (this.server) throw new Error('TcpProxy.start() called twice');
    const server = net.createServer({ pauseOnConnect: true }, (client) => this.onConnection(client));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.host, port: 0, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.port = (server.address() as AddressInfo).port;
    return this;
  }

  /** Resets every connection and every new one until {@link restore}. */
  cut(): void {
    this.mode = 'cut';
    this.muted.clear();
    for (const pair of this.pairs) {
      pair.client.resetAndDestroy();
      pair.upstream.destroy();
    }
    this.pairs.clear();
    for (const socket of this.held) socket.resetAndDestroy();
    this.held.clear();
  }

  /** Stops forwarding without closing anything: both ends wait for data that never comes. */
  blackhole(): void {
    this.mode = 'blackhole';
    for (const pair of this.pairs) {
      pair.client.pause();
      pair.upstream.pause();
      pair.client.unpipe(pair.upstream);
      pair.upstream.unpipe(pair.client);
      this.held.add(pair.client);
      pair.client.once('close', () => this.held.delete(pair.client));
      pair.upstream.destroy();
    }
    this.pairs.clear();
  }

  /** Requests still reach the server; its answers, on every connection and every new one, are dropped. */
  muteReplies(): void {
    this.mode = 'mute';
    for (const pair of this.pairs) this.mute(pair);
  }

  private mute(pair: { client: Socket; upstream: Socket }): void {
    pair.upstream.unpipe(pair.client);
    pair.upstream.on('data', () => undefined); // read and dropped
    pair.upstream.resume();
    this.muted.add(pair);
  }

  /** Forwards new connections again. */
  restore(): void {
    // a muted connection lost answers mid-stream: its client cannot make sense of it any more
    for (const pair of this.muted) {
      this.pairs.delete(pair);
      pair.client.resetAndDestroy();
      pair.upstream.destroy();
    }
    this.muted.clear();
    // sockets held by a blackhole were frozen mid-stream: their client has given up on them (or will)
    for (const socket of this.held) socket.resetAndDestroy();
    this.held.clear();
    this.mode = 'open';
  }

  async close(): Promise<void> {
    this.cut();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private onConnection(client: Socket): void {
    this.accepted++;
    client.on('error', () => undefined);
    if (this.mode === 'cut') {
      client.resetAndDestroy();
      return;
    }
    if (this.mode === 'blackhole') {
      this.held.add(client);
      client.once('close', () => this.held.delete(client));
      return;
    }
    const upstream = net.connect({ host: this.options.targetHost, port: this.options.targetPort });
    upstream.on('error', () => undefined);
    const pair = { client, upstream };
    this.pairs.add(pair);
    const drop = () => {
      this.muted.delete(pair);
      if (!this.pairs.delete(pair)) return;
      client.destroy();
      upstream.destroy();
    };
    client.once('close', drop);
    upstream.once('close', drop);
    upstream.once('connect', () => {
      if (!this.pairs.has(pair)) return;
      client.pipe(upstream);
      if (this.mode === 'mute') this.mute(pair);
      else upstream.pipe(client);
      client.resume();
    });
  }
}

/** One proxy per server of `connectString` (`host:port,...`); returns them and the connect string through them. */
export async function proxyEach(connectString: string): Promise<{ proxies: TcpProxy[]; connectString: string }> {
  const proxies: TcpProxy[] = [];
  for (const hostPort of connectString.split(',')) {
    const colon = hostPort.lastIndexOf(':');
    proxies.push(await new TcpProxy({ targetHost: hostPort.slice(0, colon), targetPort: Number(hostPort.slice(colon + 1)) }).start());
  }
  return { proxies, connectString: proxies.map((p) => p.address).join(',') };
}
