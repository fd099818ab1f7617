import type { Server } from 'node:net';

/**
 * At most `max` open connections from one source address: one more is destroyed as soon as it is
 * accepted. Without it a few addresses holding silent sockets take every slot of the server's
 * maxConnections, and every other caller is refused until their timeouts close them.
 */
export function capConnectionsPerAddress(
  server: Server,
  max: number,
  onRefused: (address: string) => void,
): void {
  const open = new Map<string, number>();
  // For TLS this is the TCP socket, before its handshake: a handshake never finished holds a slot too.
  server.on('connection', (socket) => {
    // A socket closed before it was handed over has no address; the server's own cap still counts it.
    const address = socket.remoteAddress;
    if (address === undefined) return;
    const count = open.get(address) ?? 0;
    if (count >= max) {
      onRefused(address);
      socket.destroy();
      return;
    }
    open.set(address, count + 1);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left > 0) open.set(address, left);
      else open.delete(address);
    });
  });
}
