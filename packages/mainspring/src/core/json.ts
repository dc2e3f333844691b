/** Whether `v` is a JSON object: not null, not an array (what submitted settings and schemas must be). */
export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
