/**
 * Starts a worker thread from a module beside the caller: `name.js` once built, `name.ts` when run from
 * TypeScript (tsx: `npm start`, the tests). Under tsx the thread must load tsx itself first: tsx's loader
 * does not carry over to worker threads on Node 20.
 */
import { Worker } from 'node:worker_threads';

/** `callerUrl`: the caller's import.meta.url; `name`: the module's file name without extension. */
export function startWorkerModule(callerUrl: string, name: string): Worker {
  if (!callerUrl.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, callerUrl));
  const script = new URL(`./${name}.ts`, callerUrl).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  return new Worker(`import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(script)}); })`, { eval: true });
}
