import type { Executor } from '../storage/engine.js';

/**
 * Application settings, stored in `_params` under `settings`. Issue-by-issue
 * this grows to PocketBase's full settings object; what exists is used.
 */
export interface Settings {
  meta: { appName: string; appURL: string; senderName: string; senderAddress: string; hideControls: boolean };
  batch: { enabled: boolean; maxRequests: number; timeout: number; maxBodySize: number };
}

/** Defaults: batch on (PocketBase ships it off; SDK users expect it to work). */
export function defaultSettings(): Settings {
  return {
    meta: {
      appName: 'Mainspring',
      appURL: 'http://127.0.0.1:8090',
      senderName: 'Support',
      senderAddress: 'support@example.com',
      hideControls: false,
    },
    batch: { enabled: true, maxRequests: 50, timeout: 3, maxBodySize: 0 },
  };
}

/** The table of key/value system parameters. */
export const PARAMS_TABLE = '_params';

/** Reads stored settings over the defaults. */
export async function loadSettings(db: Executor): Promise<Settings> {
  const row = await db.get<{ value: string }>(`SELECT value FROM ${PARAMS_TABLE} WHERE id = $1`, ['settings']);
  const defaults = defaultSettings();
  if (!row) return defaults;
  const stored = JSON.parse(row.value) as Partial<Settings>;
  return {
    meta: { ...defaults.meta, ...stored.meta },
    batch: { ...defaults.batch, ...stored.batch },
  };
}
