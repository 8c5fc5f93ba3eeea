import net from 'node:net';

export class PortInUseError extends Error {
  constructor(readonly port: number, readonly variable: string) {
    super(`port ${port} is already in use: stop what holds it or set ${variable} to another port`);
  }
}

/** Resolves when nothing listens on 127.0.0.1:port; throws PortInUseError naming the variable. */
export function assertPortFree(port: number, variable: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'EADDRINUSE' ? new PortInUseError(port, variable) : err);
    });
    server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
  });
}

/** A free ephemeral port on loopback (for tests and the demo agent). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function waitForPort(port: number, timeoutMs: number, isAlive: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive()) throw new Error(`process exited before listening on port ${port}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => { socket.destroy(); resolve(true); });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`nothing listened on port ${port} within ${timeoutMs} ms`);
}
