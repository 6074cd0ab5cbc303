/**
 * The export as the flags describe it (-export-file, -export-url, -export-header, -export-slack-url,
 * -public-url, the selection and batch flags): the outputs, checked before anything starts, and the
 * Exporter over them; undefined when no output is asked for (then no outbox row is ever written).
 */
import { open, readFile } from 'node:fs/promises';
import type { Logger } from '../observe/log.ts';
import type { Metrics } from '../observe/metrics.ts';
import type { Database } from '../store/database.ts';
import type { Exporter } from './delivery.ts';
import type { UrlFormat } from './outputs/http.ts';
import type { ExportOutput } from './outputs/output.ts';

export interface ExportFlags {
  'export-file': string[];
  'export-url': string[];
  'export-url-format': UrlFormat;
  'export-header': string[];
  'export-slack-url': string[];
  'public-url': string;
  'export-namespaces': string[];
  'export-denied': boolean;
  'export-alerts': boolean;
  'export-batch-size': number;
  'export-batch-delay': number;
  'export-timeout': number;
}

export function exportWanted(flags: Pick<ExportFlags, 'export-file' | 'export-url' | 'export-slack-url'>): boolean {
  return flags['export-file'].length + flags['export-url'].length + flags['export-slack-url'].length > 0;
}

/** An http(s) URL, or an error naming the flag. */
function checkUrl(flag: string, url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`${flag} is not a URL; give http://HOST:PORT/PATH or https://...`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(`${flag} must be an http:// or https:// URL, not ${parsed.protocol}//`);
  return url;
}

/**
 * `Name: value` headers; a value ending in `@/path` (or `@./path`) takes that file's content, trimmed,
 * after whatever precedes it: `Authorization: Splunk @/var/run/secrets/hec-token`.
 */
export async function parseHeaders(entries: readonly string[]): Promise<Record<string, string>> {
  const headers: Record<string, string> = {};
  for (const entry of entries) {
    const colon = entry.indexOf(':');
    const name = colon > 0 ? entry.slice(0, colon).trim() : '';
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new Error("-export-header takes 'Name: value' (or 'Name: @/path/to/file'); one was not of that form");
    let value = entry.slice(colon + 1).trim();
    const fromFile = /^(.*?)@([/.]\S*)$/.exec(value);
    if (fromFile) {
      const path = fromFile[2]!;
      let content: string;
      try {
        content = (await readFile(path, 'utf8')).trim();
      } catch (error) {
        throw new Error(`-export-header ${name}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'}); check the path and its permissions`);
      }
      if (!content) throw new Error(`-export-header ${name}: ${path} is empty; put the value (a token) in it`);
      value = `${fromFile[1]}${content}`;
    }
    if (/[\r\n\0]/.test(value)) throw new Error(`-export-header ${name}: the value holds a line break or NUL, which no header may`);
    headers[name] = value;
  }
  return headers;
}

export async function exporterFromFlags(flags: ExportFlags, deps: { db: Database; logger: Logger; metrics: Metrics }): Promise<Exporter | undefined> {
  if (!exportWanted(flags)) return undefined;
  // The delivery loop, the outputs and the document (the API's session query) load only when exporting (start-up).
  const [{ Exporter }, { FileOutput }, { HttpOutput }, { SlackOutput }] = await Promise.all([
    import('./delivery.ts'),
    import('./outputs/file.ts'),
    import('./outputs/http.ts'),
    import('./outputs/slack.ts'),
  ]);
  if (flags['public-url']) checkUrl('-public-url', flags['public-url']);
  const headers = await parseHeaders(flags['export-header']);
  const timeoutMs = flags['export-timeout'] || 10_000;
  const outputs: ExportOutput[] = [
    ...flags['export-file'].map((path) => new FileOutput(path)),
    ...flags['export-url'].map(
      (url) =>
        new HttpOutput({
          url: checkUrl('-export-url', url),
          headers,
          format: flags['export-url-format'],
          batchSize: flags['export-batch-size'],
          batchDelayMs: flags['export-batch-delay'],
          timeoutMs,
        }),
    ),
    ...flags['export-slack-url'].map((url) => new SlackOutput({ url: checkUrl('-export-slack-url', url), publicUrl: flags['public-url'], timeoutMs })),
  ];
  for (const path of flags['export-file'].filter((p) => p !== '-')) {
    // Checked now, so a wrong path is a start-up error instead of retries forever.
    await open(path, 'a').then(
      (handle) => handle.close(),
      (error: NodeJS.ErrnoException) => {
        throw new Error(`-export-file ${path} cannot be opened for appending (${error.code ?? 'error'}); check that its directory exists and is writable`);
      },
    );
  }
  const ids = outputs.map((o) => o.id);
  const repeated = ids.find((id, i) => ids.indexOf(id) !== i);
  if (repeated) throw new Error(`the export output ${repeated} is given twice; give each file or URL once`);
  return new Exporter({
    ...deps,
    outputs,
    timeoutMs,
    selection: { namespaces: flags['export-namespaces'], deniedOnly: flags['export-denied'], alertsOnly: flags['export-alerts'] },
  });
}
