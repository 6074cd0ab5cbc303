/**
 * A worker thread that answers requests, each answer carrying its request's `seq`: what the line cutting
 * thread (cutter-thread.ts) and the normalising thread (src/runtime/prepare-thread.ts) have in common.
 *
 * - The thread starts at first use, from a module beside its user (`name.js` once built, `name.ts` under
 *   tsx), and holds the process open only while a request waits on it.
 * - Should it fail (an error, an exit), every request waiting on it fails with the user's own error, the
 *   log says so once, and it is not started again: the user does the work inline from then on.
 * - close() ends it on purpose (the source stopped): the requests waiting fail the same way; a later use
 *   starts a new thread.
 */
import { Worker, type Transferable } from 'node:worker_threads';
import type { Logger } from '../observe/log.ts';

export interface WorkerThreadOptions {
  /** The user's import.meta.url, and the worker module's file name beside it, without extension. */
  callerUrl: string;
  module: string;
  /** How its errors name it, e.g. "the line cutting thread". */
  title: string;
  /** The error a waiting request fails with (the user's class, so it can tell this from other failures). */
  stopped: (message: string) => Error;
  /** Said once, at warn, when the thread stops by itself. */
  stoppedWarning: string;
  logger?: Logger;
  /** Sent to each thread started, before any request (settings). */
  firstMessage?: unknown;
}

interface Waiting<Answer> {
  resolve: (answer: Answer) => void;
  reject: (error: Error) => void;
}

export class WorkerThread<Answer extends { seq: number }> {
  private worker: Worker | undefined;
  private failed = false;
  private nextSeq = 0;
  private readonly waiting = new Map<number, Waiting<Answer>>();

  constructor(private readonly options: WorkerThreadOptions) {}

  /** False once the thread failed. */
  get usable(): boolean {
    return !this.failed;
  }

  /** The thread, started if it is not running; undefined once it failed. */
  running(): Worker | undefined {
    if (this.failed) return undefined;
    return (this.worker ??= this.start());
  }

  /** Whether `worker` is still the thread in use (not ended nor failed since). */
  isRunning(worker: Worker): boolean {
    return this.worker === worker;
  }

  /** Posts the request `make` builds with its seq to `worker`; resolves with the answer of that seq. */
  request(worker: Worker | undefined, make: (seq: number) => { message: unknown; transfer: Transferable[] }): Promise<Answer> {
    if (!worker || this.worker !== worker) return Promise.reject(this.options.stopped(`${this.options.title} stopped earlier`));
    const seq = this.nextSeq++;
    const { message, transfer } = make(seq);
    return new Promise((resolve, reject) => {
      if (this.waiting.size === 0) worker.ref();
      this.waiting.set(seq, { resolve, reject });
      worker.postMessage(message, transfer);
    });
  }

  /** Ends the thread (`because`: why, for the requests still waiting, which fail). */
  async close(because: string): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.failWaiting(this.options.stopped(`${this.options.title} was ended (${because})`));
    await worker?.terminate();
  }

  private start(): Worker {
    const worker = startWorkerModule(this.options.callerUrl, this.options.module);
    worker.unref();
    if (this.options.firstMessage !== undefined) worker.postMessage(this.options.firstMessage);
    worker.on('message', (answer: Answer) => {
      const waiting = this.waiting.get(answer.seq);
      if (!waiting) return;
      this.waiting.delete(answer.seq);
      if (this.waiting.size === 0) worker.unref();
      waiting.resolve(answer);
    });
    worker.on('error', (error) => this.stopUsing(worker, error));
    worker.on('exit', (code) => this.stopUsing(worker, new Error(`it exited with code ${code}`)));
    return worker;
  }

  private stopUsing(worker: Worker, error: Error): void {
    if (this.worker !== worker) return; // closed on purpose
    this.worker = undefined;
    this.failed = true;
    this.options.logger?.warn({ err: error.message }, this.options.stoppedWarning);
    this.failWaiting(this.options.stopped(`${this.options.title} stopped: ${error.message}`));
  }

  private failWaiting(error: Error): void {
    for (const { reject } of this.waiting.values()) reject(error);
    this.waiting.clear();
  }
}

/**
 * A worker from `name.js` beside the caller once built, `name.ts` when run from TypeScript (tsx: `npm
 * start`, the tests). Under tsx the thread must load tsx itself first: tsx's loader does not carry over to
 * worker threads on Node 20.
 */
function startWorkerModule(callerUrl: string, name: string): Worker {
  if (!callerUrl.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, callerUrl));
  const script = new URL(`./${name}.ts`, callerUrl).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  return new Worker(`import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(script)}); })`, { eval: true });
}
