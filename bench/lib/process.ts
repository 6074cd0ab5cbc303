/**
 * Runs a measured child process (the real `audit-processor`, or a baseline script) and watches it from
 * outside: wall time, peak RSS (VmHWM, the kernel's own high-water mark, polled from /proc) and CPU time
 * (utime + stime from /proc/<pid>/stat), so "CPU-bound" or "waiting on the database" is a measured fact.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { builtPath } from './build.ts';
import { projectRoot } from './datasets.ts';
const CLOCK_TICKS_PER_SECOND = 100; // getconf CLK_TCK on Linux

export interface ProcessUsage {
  /** Peak resident set size in bytes (VmHWM). */
  peakRssBytes: number;
  /** User + system CPU seconds. */
  cpuSeconds: number;
  /**
   * Largest peak RSS of any of its own child processes (each polled the same way), 0 if it started
   * none: PGlite's initdb runs in one (src/store/pglite-initdb.ts), and its memory is said apart.
   */
  childPeakRssBytes: number;
}

export interface ProcessResult extends ProcessUsage {
  code: number | null;
  signal: NodeJS.Signals | null;
  wallMs: number;
  stdout: string;
  stderr: string;
}

export interface RunningProcess {
  child: ChildProcess;
  pid: number;
  startedAt: number;
  /** Latest usage seen (polled every 50 ms). */
  usage(): ProcessUsage;
  /** Resolves when the process has exited. */
  done: Promise<ProcessResult>;
  /** Text written so far. */
  output(): { stdout: string; stderr: string };
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the result. */
  stop(graceMs?: number): Promise<ProcessResult>;
}

const peakRssOf = (pid: number | string): number => {
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return hwm ? Number(hwm[1]) * 1024 : 0;
};

function readUsage(pid: number, previous: ProcessUsage): ProcessUsage {
  try {
    const peakRssBytes = peakRssOf(pid);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    let childPeakRssBytes = previous.childPeakRssBytes;
    for (const child of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean)) {
      try {
        childPeakRssBytes = Math.max(childPeakRssBytes, peakRssOf(child));
      } catch {
        // exited meanwhile
      }
    }
    return {
      peakRssBytes: Math.max(previous.peakRssBytes, peakRssBytes),
      cpuSeconds: Math.max(previous.cpuSeconds, ticks / CLOCK_TICKS_PER_SECOND),
      childPeakRssBytes,
    };
  } catch {
    return previous; // exited between two polls
  }
}

/**
 * Starts a script of this project as a measured child, from its built JavaScript (bench/lib/build.ts:
 * buildProcessor() must have run): `script` is the TypeScript path, e.g. bench/baselines/count-lines.ts.
 */
export function startNodeScript(
  script: string,
  args: string[],
  options: { env?: Record<string, string>; stdin?: 'pipe' | 'ignore'; nodeArgs?: string[] } = {},
): RunningProcess {
  const startedAt = performance.now();
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), builtPath(script), ...args], {
    cwd: projectRoot,
    env: { ...process.env, DATABASE_URL: '', ...options.env },
    stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid!;
  let usage: ProcessUsage = { peakRssBytes: 0, cpuSeconds: 0, childPeakRssBytes: 0 };
  const poll = setInterval(() => (usage = readUsage(pid, usage)), 50);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-200_000)));
  const done = new Promise<ProcessResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', () => {
      clearInterval(poll);
    });
    child.on('close', (code, signal) =>
      resolve({ code, signal, wallMs: performance.now() - startedAt, stdout, stderr, ...usage }),
    );
  });
  return {
    child,
    pid,
    startedAt,
    usage: () => (usage = readUsage(pid, usage)),
    done,
    output: () => ({ stdout, stderr }),
    stop: async (graceMs = 10_000) => {
      usage = readUsage(pid, usage);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        const result = await done;
        clearTimeout(timer);
        return result;
      }
      return done;
    },
  };
}

/**
 * Starts the real `audit-processor` command (built: what `npm run build` makes and the image runs).
 * With BENCH_CPU_PROF=DIR in the environment each processor run writes a V8 CPU profile into DIR
 * (summarise it with bench/tools/profile-summary.ts).
 */
export function startProcessor(args: string[], env: Record<string, string> = {}): RunningProcess {
  const profileDir = process.env.BENCH_CPU_PROF;
  const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  return startNodeScript('cmd/audit-processor.ts', args, { env, nodeArgs });
}

/** Runs a process to its end and fails with its stderr when it exits non-zero. */
export async function runToEnd(running: RunningProcess, what: string): Promise<ProcessResult> {
  const result = await running.done;
  if (result.code !== 0) {
    throw new Error(`${what} exited with ${result.code ?? result.signal}: ${result.stderr.trim().split('\n').slice(-5).join('\n')}`);
  }
  return result;
}

/** Waits until `probe` resolves true (polling), or throws after `timeoutMs` naming `what`. */
export async function waitFor(what: string, probe: () => Promise<boolean> | boolean, timeoutMs = 60_000, everyMs = 25): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      if (await probe()) return;
    } catch {
      // not ready yet
    }
    if (performance.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
