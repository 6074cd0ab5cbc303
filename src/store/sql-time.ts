/**
 * A timestamptz column as RFC 3339 text with exactly six fractional digits and `Z`, the form audit and
 * KubeArmor times have: Postgres keeps microseconds, a JS Date would not, and this form sorts as text.
 */
export const isoMicrosSql = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
