/**
 * SQL derived from the one declaration of each table (src/store/schema.ts): the select lists that give
 * rows back keyed and typed as the schema's row type, and the COPY format a batch write sends. No reader or
 * writer lists a table's columns by hand.
 */
import { getTableColumns, type Column, type InferSelectModel } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import { isoMicrosSql } from '../time/micros.ts';

const isTimestamp = (column: Column) => column.getSQLType().startsWith('timestamp');

/**
 * `alias.column AS "key", ...` for the given keys of a table's row: rows come back keyed as the schema
 * names them, timestamps as canonical text with microseconds (src/time/micros.ts).
 */
export function selectColumns<T extends PgTable, K extends keyof InferSelectModel<T> & string>(table: T, keys: readonly K[], alias: string): string {
  const columns = getTableColumns(table) as Record<string, Column>;
  return keys
    .map((key) => {
      const column = columns[key];
      if (!column) throw new Error(`${key} is not a column of the table`);
      const ref = `${alias}."${column.name}"`;
      return `${isTimestamp(column) ? isoMicrosSql(ref) : ref} AS "${key}"`;
    })
    .join(', ');
}

/**
 * For rows sent as one jsonb parameter, keyed as the schema names them (`JSON.stringify(rows)`):
 * `definition` is the record type of `jsonb_to_recordset(...) AS r(<definition>)`, `names` the target
 * columns of an INSERT, and `values(alias)` the matching select list.
 */
export function recordset<T extends PgTable, K extends keyof InferSelectModel<T> & string>(
  table: T,
  keys: readonly K[],
): { definition: string; names: string; values(alias: string): string; column(key: K): string } {
  const columns = getTableColumns(table) as Record<string, Column>;
  const column = (key: K) => {
    const found = columns[key];
    if (!found) throw new Error(`${key} is not a column of the table`);
    return found;
  };
  return {
    definition: keys.map((key) => `"${key}" ${column(key).getSQLType()}`).join(', '),
    names: keys.map((key) => `"${column(key).name}"`).join(', '),
    values: (alias) => keys.map((key) => `${alias}."${key}"`).join(', '),
    column: (key) => `"${column(key).name}"`,
  };
}

/**
 * One value in COPY's text format: `\N` for null, JSON for objects, and `\`, tab, newline and carriage
 * return escaped (PostgreSQL COPY "Text Format").
 */
export function copyText(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return escapeCopyText(value);
    case 'number':
    case 'bigint':
      return String(value); // digits, a sign, a point: nothing to escape
    case 'boolean':
      return value ? 't' : 'f';
    case 'undefined':
      return '\\N';
    default:
      return value === null ? '\\N' : escapeCopyText(JSON.stringify(value));
  }
}

const copySpecial = /[\\\t\n\r]/;

function escapeCopyText(text: string): string {
  return copySpecial.test(text) ? text.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r')) : text;
}

/** How a batch of a table's rows is written with COPY: the column list and the rows in that order. */
export interface CopyFormat<Row> {
  /** `"col_a", "col_b", ...`: every column, in declaration order (for COPY and INSERT ... SELECT). */
  columnList: string;
  /** The rows in COPY's text format, one line each, columns as columnList names them. */
  text(rows: readonly Row[]): string;
}

/**
 * A table's COPY format, both halves from the one declaration so they cannot disagree. The row reader
 * is compiled once from the schema's keys: a loop reading `row[key]` with a different key per column is
 * a megamorphic lookup that cost a third of the serialisation (40 columns, thousands of rows a second).
 */
export function copyFormat<T extends PgTable>(table: T): CopyFormat<InferSelectModel<T>> {
  const columns = Object.entries(getTableColumns(table) as Record<string, Column>);
  // The keys are the schema's own property names, quoted as JSON string literals.
  const fieldsOf = new Function('row', `return [${columns.map(([key]) => `row[${JSON.stringify(key)}]`).join(', ')}];`) as (row: unknown) => unknown[];
  return {
    columnList: columns.map(([, column]) => `"${column.name}"`).join(', '),
    text: (rows) => {
      const lines = new Array<string>(rows.length + 1);
      for (let r = 0; r < rows.length; r++) {
        const fields = fieldsOf(rows[r]);
        for (let i = 0; i < fields.length; i++) fields[i] = copyText(fields[i]);
        lines[r] = fields.join('\t');
      }
      lines[rows.length] = '';
      return lines.join('\n');
    },
  };
}
