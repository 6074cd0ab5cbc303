/**
 * The README's table of session fields, generated from the zod schemas in session-documents.ts (the one place the
 * shape is declared): test/audit/readme-fields.test.ts checks the README holds exactly this table.
 */
import type { z } from 'zod';
import { actorSchema, execMetadataSchema, sourceSchema } from './session-documents.ts';

interface Def {
  type: string;
  innerType?: z.ZodType;
  element?: z.ZodType;
  valueType?: z.ZodType;
  entries?: Record<string, string>;
  values?: unknown[];
  shape?: Record<string, z.ZodType>;
}

const defOf = (schema: z.ZodType) => (schema as unknown as { _zod: { def: Def } })._zod.def;

function typeName(schema: z.ZodType): string {
  const def = defOf(schema);
  switch (def.type) {
    case 'optional':
      return typeName(def.innerType!);
    case 'nullable':
      return `${typeName(def.innerType!)} or null`;
    case 'array':
      return `${typeName(def.element!)}[]`;
    case 'record':
      return `{key: ${typeName(def.valueType!)}}`;
    case 'enum':
      return Object.values(def.entries!).map((v) => `\`${v}\``).join(' \\| ');
    case 'literal':
      return def.values!.map((v) => `\`${String(v)}\``).join(' \\| ');
    default:
      return def.type;
  }
}

function objectShape(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  const def = defOf(schema);
  if (def.type === 'optional' || def.type === 'nullable') return objectShape(def.innerType!);
  return def.type === 'object' ? def.shape : undefined;
}

function rows(prefix: string, schema: z.ZodType): string[] {
  const out: string[] = [];
  for (const [name, field] of Object.entries(objectShape(schema) ?? {})) {
    const path = `${prefix}.${name}`;
    const nested = objectShape(field);
    const optional = defOf(field).type === 'optional' ? ' (optional)' : '';
    out.push(`| \`${path}\` | ${nested ? 'object' : typeName(field)}${optional} | ${(field.description ?? '').replaceAll('|', '\\|')} |`);
    if (nested) out.push(...rows(path, field));
  }
  return out;
}

/** The Markdown table of every field of actor, source and exec_metadata. */
export function sessionFieldTable(): string {
  return ['| field | type | meaning |', '|---|---|---|', ...rows('actor', actorSchema), ...rows('source', sourceSchema), ...rows('exec_metadata', execMetadataSchema)].join('\n');
}
