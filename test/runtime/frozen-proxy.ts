/**
 * A TCP proxy a test can freeze: the connections it carries stop forwarding anything, in either
 * direction, without being closed (a node gone without a RST, a dropped network path, a stuck
 * middlebox). New connections are forwarded as usual, so a client that notices can reconnect.
 */
import net from 'node:net';

export class FreezableProxy {
  private readonly pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  private readonly server = net.createServer((client) => this.accept(client));
  port = 0;
  /** Connections accepted so far. */
  connections = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  private accept(client: net.Socket): void {
    this.connections++;
    const upstream = net.connect(this.target.port, this.target.host);
    const pair = { client, upstream };
    this.pairs.add(pair);
    for (const socket of [client, upstream]) {
      socket.on('error', () => undefined);
      socket.on('close', () => {
        client.destroy();
        upstream.destroy();
        this.pairs.delete(pair);
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** Every open connection stops carrying bytes, and stays open. */
  freeze(): void {
    for (const { client, upstream } of this.pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
  }

  /** Connections still open (frozen ones included). */
  get open(): number {
    return this.pairs.size;
  }

  async close(): Promise<void> {
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
