// Children of the stack run in their own process group so that stopping one stops everything it
// spawned, and so a Ctrl-C reaches us first and we can stop them in order (functions, then DB).
//
// Their own group also means a crash of ours (SIGKILL, an uncaught error, an OOM kill) would leave
// them running with no parent. So each child gets a watchdog: a tiny `sh` in a group of its own
// whose stdin is a pipe from us. Nothing is ever written to it; when our process dies, for whatever
// reason, the kernel closes our end, the watchdog's `read` sees end-of-file and it stops the
// child's group with the child's own stop signal (SIGINT, PostgreSQL's fast shutdown), then
// SIGKILL after the grace period. An orderly stop kills the watchdog first, so it never acts.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';

export interface Managed {
  name: string;
  child: ChildProcess;
  /** Last lines of output, for error messages when the process dies early. */
  tail: () => string;
  alive: () => boolean;
  stop: (signal?: NodeJS.Signals, graceMs?: number) => Promise<void>;
}

export interface ManagedOptions extends SpawnOptions {
  onLine?: (line: string) => void;
  /** Append stdout and stderr to this file instead of piping them to us (they then survive our death). */
  logFile?: string;
  /** What the watchdog sends the child's group when we die, and how long it waits before SIGKILL. */
  watchdog?: { signal: NodeJS.Signals; graceMs: number };
}

/** The watchdog's script: wait for EOF on stdin, then signal the group, then SIGKILL what is left. */
function watchdogScript(pgid: number, signal: NodeJS.Signals, graceMs: number): string {
  const polls = Math.max(1, Math.ceil(graceMs / 200));
  return [
    'read -r _ 2>/dev/null',
    `kill -s ${signal.replace(/^SIG/, '')} -- -${pgid} 2>/dev/null || exit 0`,
    `i=0; while [ $i -lt ${polls} ]; do kill -0 -- -${pgid} 2>/dev/null || exit 0; sleep 0.2; i=$((i+1)); done`,
    `kill -s KILL -- -${pgid} 2>/dev/null; exit 0`,
  ].join('\n');
}

function startWatchdog(pgid: number, signal: NodeJS.Signals, graceMs: number): ChildProcess {
  const dog = spawn('sh', ['-c', watchdogScript(pgid, signal, graceMs)], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
  dog.on('error', () => { /* no sh: the orderly stop still works */ });
  // Neither the process nor its pipe keeps our event loop alive.
  dog.unref();
  (dog.stdin as unknown as { _handle?: { unref?: () => void } } | null)?._handle?.unref?.();
  return dog;
}

function lastLines(file: string, n: number): string {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const length = Math.min(size, 16384);
      const buffer = Buffer.alloc(length);
      fs.readSync(fd, buffer, 0, length, size - length);
      return buffer.toString('utf8').split('\n').filter((l) => l.trim() !== '').slice(-n).join('\n');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}

export function startManaged(name: string, command: string, args: string[], options: ManagedOptions = {}): Managed {
  const { onLine, logFile, watchdog, ...spawnOptions } = options;
  const logFd = logFile ? fs.openSync(logFile, 'a', 0o640) : undefined;
  if (logFd !== undefined && spawnOptions.uid !== undefined) {
    try { fs.fchownSync(logFd, spawnOptions.uid, spawnOptions.gid ?? -1); } catch { /* not ours to own */ }
  }
  const child = spawn(command, args, {
    ...spawnOptions,
    detached: true,
    stdio: ['ignore', logFd ?? 'pipe', logFd ?? 'pipe'],
  });
  if (logFd !== undefined) fs.closeSync(logFd);
  const dog = watchdog && child.pid !== undefined ? startWatchdog(child.pid, watchdog.signal, watchdog.graceMs) : undefined;
  const killDog = () => { try { dog?.kill('SIGKILL'); } catch { /* gone */ } };
  const lines: string[] = [];
  let exited = child.exitCode !== null;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', () => { exited = true; killDog(); resolve(); });
    child.once('error', (err) => { exited = true; killDog(); lines.push(String(err)); resolve(); });
  });
  // A chunk can end mid-line: keep the unfinished part (per stream) until its newline arrives.
  const collector = () => {
    let partial = '';
    const emit = (line: string) => {
      if (line.trim() === '') return;
      lines.push(line);
      if (lines.length > 40) lines.shift();
      onLine?.(line);
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
    tail: () => (logFile ? lastLines(logFile, 40) : lines.join('\n')),
    alive: () => !exited,
    async stop(signal = 'SIGTERM', graceMs = 5000) {
      // (the watchdog stays until the child has exited: if we die while stopping, it finishes the job)
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
