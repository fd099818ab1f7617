import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { capConnectionsPerAddress } from './per-address.ts';

/** Real loopback sockets: Linux answers on every address of 127.0.0.0/8, so each is another client. */

describe('capConnectionsPerAddress', () => {
  let server: Server;
  const sockets: Socket[] = [];

  afterEach(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  async function listen(max: number, refused: string[]): Promise<number> {
    server = createServer();
    capConnectionsPerAddress(server, max, (address) => refused.push(address));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as { port: number }).port;
  }

  /** A connection from `localAddress`, resolved with whether the server closed it. */
  function open(port: number, localAddress: string): Promise<{ socket: Socket; closed: Promise<void> }> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1', localAddress }, () =>
        resolve({ socket, closed: new Promise((done) => socket.once('close', () => done())) }),
      );
      socket.once('error', reject);
      sockets.push(socket);
    });
  }

  it('closes a connection beyond the cap of its address, and counts again once one is closed', async () => {
    const refused: string[] = [];
    const port = await listen(2, refused);
    await open(port, '127.0.0.2');
    const second = await open(port, '127.0.0.2');
    const third = await open(port, '127.0.0.2');
    await third.closed;
    expect(refused).toEqual(['127.0.0.2']);
    // Another address is not held back.
    const other = await open(port, '127.0.0.3');
    second.socket.destroy();
    await second.closed;
    // The server may see the close a moment after the client: a refused attempt is retried.
    for (;;) {
      const again = await open(port, '127.0.0.2');
      const result = await Promise.race([again.closed.then(() => 'closed'), serverSaw(2)]);
      if (result === 'kept') break;
    }
    expect(other.socket.destroyed).toBe(false);
  });

  /** Resolves 'kept' once the server has as many connections open as `count` plus the other address's. */
  async function serverSaw(count: number): Promise<'kept'> {
    for (;;) {
      const open = await new Promise<number>((resolve) => server.getConnections((_, n) => resolve(n)));
      if (open >= count + 1) return 'kept';
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
});
