import type { AddressInfo } from 'node:net';
import { createConnection, createServer, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a server that can fall silent: `silence()` stops forwarding, both ways, on
 * every connection open at that moment, and closes none of them, which is how a half-open connection
 * or a middlebox that stopped forwarding looks to both ends. Connections made later are forwarded.
 */
export interface SilenceableProxy {
  /** The proxy's address, with the target's scheme: https://127.0.0.1:port. */
  url: string;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Silenced connections the target closed (none should be: it sees a live client). */
  readonly silencedClosedByTarget: number;
  silence(): void;
  close(): Promise<void>;
}

export async function silenceableProxy(target: URL): Promise<SilenceableProxy> {
  const links = new Set<{ client: Socket; upstream: Socket; silent: boolean }>();
  let connections = 0;
  let silencedClosedByTarget = 0;
  const server = createServer((client) => {
    connections++;
    const upstream = createConnection(Number(target.port), target.hostname);
    const link = { client, upstream, silent: false };
    links.add(link);
    client.on('data', (data) => link.silent || upstream.write(data));
    upstream.on('data', (data) => link.silent || client.write(data));
    upstream.on('end', () => {
      if (link.silent) silencedClosedByTarget++;
    });
    const end = () => {
      links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) socket.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `${target.protocol}//127.0.0.1:${(server.address() as AddressInfo).port}`,
    get connections() {
      return connections;
    },
    get silencedClosedByTarget() {
      return silencedClosedByTarget;
    },
    silence() {
      for (const link of links) link.silent = true;
    },
    async close() {
      for (const { client, upstream } of links) {
        client.destroy();
        upstream.destroy();
      }
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
