/**
 * What a bench row returns and how the run prints it: one line per figure, with the baseline measured in
 * the same run, the ratio, the target and whether it was met, the processor's peak RSS, and a note on
 * what bounds the figure.
 */
import os from 'node:os';

export interface Measurement {
  /** Short id of the row (backfill, exec-heavy, webhook, ...). */
  row: string;
  /** What was measured, e.g. "backfill into Postgres". */
  figure: string;
  value: number;
  unit: string;
  baseline?: { label: string; value: number; unit?: string };
  /** value / baseline (for latencies: how many times the baseline). */
  ratio?: number;
  target?: { text: string; met: boolean };
  /** Peak RSS of the processor during this run, bytes. */
  peakRssBytes?: number;
  /** What bounds the figure, or how it was measured. */
  note?: string;
}

/** A row that could not run (a piece not built yet, a failure): still printed, with the reason. */
export interface Skipped {
  row: string;
  figure: string;
  reason: string;
}

export type RowOutcome = Measurement | Skipped;

export const isSkipped = (o: RowOutcome): o is Skipped => 'reason' in o;

export interface MachineDescription {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  os: string;
  node: string;
  postgres: string;
  pglite: string;
  commit: string;
  loadAverageAtStart: number[];
  loadAverageAtEnd?: number[];
}

export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 100_000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

const mb = (bytes: number) => `${Math.round(bytes / (1024 * 1024))} MB`;

export function ratioText(m: Measurement): string {
  return m.ratio === undefined ? '' : `${m.ratio >= 10 ? m.ratio.toFixed(0) : m.ratio.toFixed(2)}x`;
}

/** Markdown table (also what the terminal prints). */
export function markdownTable(outcomes: RowOutcome[]): string {
  const header = ['row', 'figure', 'value', 'baseline (same run)', 'ratio', 'target', 'met', 'peak RSS', 'note'];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const o of outcomes) {
    if (isSkipped(o)) {
      lines.push(`| ${o.row} | ${o.figure} | not measured | | | | | | ${escape(o.reason)} |`);
      continue;
    }
    const baseline = o.baseline ? `${o.baseline.label}: ${formatNumber(o.baseline.value)} ${o.baseline.unit ?? o.unit}` : '';
    lines.push(
      `| ${o.row} | ${o.figure} | ${formatNumber(o.value)} ${o.unit} | ${escape(baseline)} | ${ratioText(o)} | ${escape(o.target?.text ?? '')} | ${o.target ? (o.target.met ? 'yes' : '**no**') : ''} | ${o.peakRssBytes ? mb(o.peakRssBytes) : ''} | ${escape(o.note ?? '')} |`,
    );
  }
  return lines.join('\n');
}

const escape = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function machineMarkdown(m: MachineDescription): string {
  return [
    `- CPU: ${m.cpus} cores (${m.cpuModel}), memory ${m.memoryGiB} GiB, ${m.os}`,
    `- Node ${m.node}, PostgreSQL ${m.postgres} (127.0.0.1, a fresh database per run), PGlite ${m.pglite} (temp dir per run)`,
    `- commit ${m.commit}; load average at start ${m.loadAverageAtStart.map((l) => l.toFixed(2)).join(' ')}` +
      (m.loadAverageAtEnd ? `, at end ${m.loadAverageAtEnd.map((l) => l.toFixed(2)).join(' ')}` : ''),
  ].join('\n');
}

export function describeOs(): string {
  return `${os.type()} ${os.release()} ${os.arch()}`;
}
