import { parseDateInput } from '../dates.js';
import { type ErrorData, fieldError } from '../errors.js';

/**
 * Reads the options a superuser submitted for a field: each read returns the
 * option or its default, and records why a bad one was refused in `errors`.
 */
export class OptionReader {
  constructor(
    private readonly raw: Record<string, unknown>,
    readonly errors: ErrorData,
  ) {}

  private fail(key: string, message: string) {
    this.errors[key] = fieldError('validation_invalid_value', message);
  }

  bool(key: string, def = false): boolean {
    const v = this.raw[key];
    if (v === undefined || v === null) return def;
    if (typeof v !== 'boolean') {
      this.fail(key, 'Must be a boolean.');
      return def;
    }
    return v;
  }

  int(key: string, def: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.raw[key];
    if (v === undefined || v === null) return def;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.fail(key, `Must be an integer between ${min} and ${max}.`);
      return def;
    }
    return v;
  }

  numberOrNull(key: string): number | null {
    const v = this.raw[key];
    if (v === undefined || v === null || v === '') return null;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      this.fail(key, 'Must be a number or null.');
      return null;
    }
    return v;
  }

  string(key: string, def = '', maxLength = 1000): string {
    const v = this.raw[key];
    if (v === undefined || v === null) return def;
    if (typeof v !== 'string' || v.length > maxLength) {
      this.fail(key, `Must be a string of at most ${maxLength} characters.`);
      return def;
    }
    return v;
  }

  stringList(key: string, maxItems = 1000): string[] | null {
    const v = this.raw[key];
    if (v === undefined || v === null) return null;
    if (!Array.isArray(v) || v.length > maxItems || v.some((s) => typeof s !== 'string' || s.length > 500)) {
      this.fail(key, `Must be a list of at most ${maxItems} strings.`);
      return null;
    }
    return [...new Set(v as string[])];
  }

  regex(key: string): string {
    const pattern = this.string(key, '', 500);
    if (pattern) {
      try {
        new RegExp(pattern, 'u');
      } catch {
        this.fail(key, 'Must be a valid regular expression.');
        return '';
      }
    }
    return pattern;
  }

  date(key: string): string {
    const v = this.string(key, '');
    const parsed = parseDateInput(v);
    if (parsed === null) {
      this.fail(key, 'Must be a valid date.');
      return '';
    }
    return parsed;
  }
}
