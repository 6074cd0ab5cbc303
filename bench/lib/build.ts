/**
 * The processor as production runs it: compiled JavaScript, not TypeScript through tsx. tsx costs the
 * measured process ~50 MB of RSS and seconds of start-up (its loader and esbuild transforms live in the
 * process), which would be charged to the processor's peak RSS and throughput.
 *
 * `npm run build` type-checks the whole tree first (slow on 2 shared cores, and it fails while others
 * are mid-edit), so the bench emits the same JavaScript with TypeScript's per-file transpiler
 * (`isolatedModules` holds for this project, so the output is what tsc writes) into bench/data/build,
 * plus what scripts/copy-assets.mjs copies and the migrations. Files are re-emitted only when changed.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { dataDir, projectRoot } from './datasets.ts';

export const buildDir = join(dataDir, 'build');

function* typescriptFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (path !== dataDir) yield* typescriptFiles(path);
    }
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) yield path;
  }
}

const compilerOptions: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  verbatimModuleSyntax: true,
  rewriteRelativeImportExtensions: true,
  sourceMap: false,
};

/** The built JavaScript of a TypeScript file of this project (e.g. bench/baselines/count-lines.ts). */
export function builtPath(source: string): string {
  return join(buildDir, relative(projectRoot, resolve(projectRoot, source))).replace(/\.ts$/, '.js');
}

/** Emits cmd/, src/ and bench/ as JavaScript under bench/data/build; returns the path of the command. */
export function buildProcessor(): { entry: string; emitted: number } {
  let emitted = 0;
  for (const root of ['cmd', 'src', 'scenarios', 'bench']) {
    for (const source of typescriptFiles(join(projectRoot, root))) {
      const target = join(buildDir, relative(projectRoot, source)).replace(/\.ts$/, '.js');
      if (existsSync(target) && statSync(target).mtimeMs >= statSync(source).mtimeMs) continue;
      const output = ts.transpileModule(readFileSync(source, 'utf8'), { compilerOptions, fileName: source });
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, output.outputText);
      emitted++;
    }
  }
  for (const dir of ['src/runtime/proto', 'src/api/public', 'migrations']) {
    if (existsSync(join(projectRoot, dir))) cpSync(join(projectRoot, dir), join(buildDir, dir), { recursive: true });
  }
  return { entry: join(buildDir, 'cmd', 'audit-processor.js'), emitted };
}
