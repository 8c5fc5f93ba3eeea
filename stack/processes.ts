// Children of the stack run in their own process group so that stopping one stops everything it
// spawned, and so a Ctrl-C reaches us first and we can stop them in order (functions, then DB).
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export interface Managed {
  name: string;
  child: ChildProcess;
  /** Last lines of output, for error messages when the process dies early. */
  tail: () => string;
  alive: () => boolean;
  stop: (signal?: NodeJS.Signals, graceMs?: number) => Promise<void>;
}

export function startManaged(name: string, command: string, args: string[], options: SpawnOptions & { onLine?: (line: string) => void } = {}): Managed {
  const child = spawn(command, args, { ...options, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let exited = child.exitCode !== null;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', () => { exited = true; resolve(); });
    child.once('error', (err) => { exited = true; lines.push(String(err)); resolve(); });
  });
  // A chunk can end mid-line: keep the unfinished part (per stream) until its newline arrives.
  const collector = () => {
    let partial = '';
    const emit = (line: string) => {
      if (line.trim() === '') return;
      lines.push(line);
      if (lines.length > 40) lines.shift();
      options.onLine?.(line);
    };
    return {
      data: (chunk: Buffer) => {
        const parts = (partial + chunk.toString('utf8')).split('\n');
        partial = parts.pop() ?? '';
        parts.forEach(emit);
      },
      end: () => { emit(partial); partial = ''; },
    };
  };
  for (const stream of [child.stdout, child.stderr]) {
    const c = collector();
    stream?.on('data', c.data);
    stream?.on('end', c.end);
  }
  return {
    name,
    child,
    tail: () => lines.join('\n'),
    alive: () => !exited,
    async stop(signal = 'SIGTERM', graceMs = 5000) {
      if (exited || child.pid === undefined) return;
      const group = -child.pid;
      try { process.kill(group, signal); } catch { /* already gone */ }
      const timer = setTimeout(() => { try { process.kill(group, 'SIGKILL'); } catch { /* gone */ } }, graceMs);
      await exitPromise;
      clearTimeout(timer);
      // Anything the child left in its group (e.g. a forked helper) goes too.
      try { process.kill(group, 'SIGKILL'); } catch { /* group empty */ }
    },
  };
}
