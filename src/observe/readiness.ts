/**
 * What `/readyz` answers, on every port, put together from what each part of the process reports.
 * cmd/ hands the HTTP servers the list of contributors; each part (the database, each file source,
 * the KubeArmor streams) supplies its own, so nothing is read from a module-global.
 *
 * The answer is one JSON object: `status` ("ready" or "not ready"), `reasons` (each saying what is
 * wrong and what to do; empty when ready), the fields each contributor fills (`database`,
 * `migrations`, `fileSources`, `runtimeStreams`; the README documents them), and `elapsedMs`.
 */

export interface ReadinessContribution {
  /** Whether this part lets the process take traffic; absent for detail that never decides (KubeArmor streams). */
  ready?: boolean;
  /** Why not ready, each saying what to do. */
  reasons?: string[];
  /** Fields of the answer this part fills. Arrays from several contributors are concatenated. */
  fields: Record<string, unknown>;
}

export type ReadinessContributor = () => ReadinessContribution | Promise<ReadinessContribution>;

export interface ReadinessAnswer {
  ready: boolean;
  body: { status: 'ready' | 'not ready'; reasons: string[]; elapsedMs: number; [field: string]: unknown };
}

/** Asks every contributor (a failing one is a reason, never an exception) and puts the answer together. */
export async function answerReadiness(contributors: readonly ReadinessContributor[], stopping = false): Promise<ReadinessAnswer> {
  const started = performance.now();
  const reasons: string[] = stopping ? ['shutting down'] : [];
  const fields: Record<string, unknown> = {};
  let ready = !stopping;
  const parts = await Promise.all(
    contributors.map(async (contributor): Promise<ReadinessContribution> => {
      try {
        return await contributor();
      } catch (error) {
        return { ready: false, reasons: [`a readiness check failed: ${(error as Error).message}`], fields: {} };
      }
    }),
  );
  for (const part of parts) {
    if (part.ready === false) ready = false;
    if (part.ready === false) reasons.push(...(part.reasons ?? []));
    for (const [name, value] of Object.entries(part.fields)) {
      const previous = fields[name];
      fields[name] = Array.isArray(previous) && Array.isArray(value) ? [...previous, ...value] : value;
    }
  }
  return {
    ready,
    body: { status: ready ? 'ready' : 'not ready', reasons, ...fields, elapsedMs: Math.round(performance.now() - started) },
  };
}
