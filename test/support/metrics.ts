/** Reading a processor's /metrics as an operator's scraper does. */

/** `name{labels} value` lines → value by series; the sum over labels under the bare name. */
export function parseMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!match) continue;
    const [, name, labels = '', value] = match;
    values.set(name! + labels, Number(value));
    if (labels) values.set(name!, (values.get(name!) ?? 0) + Number(value));
  }
  return values;
}

/** The processor's /metrics on 127.0.0.1:port, parsed; empty while it is not listening yet. */
export async function scrapeMetrics(port: number): Promise<Map<string, number>> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined);
  return response?.ok ? parseMetrics(await response.text()) : new Map();
}
