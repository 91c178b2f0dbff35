// The manifest's strict JSON readers, shared by the manifest parser and each
// platform's reference-values parser: unknown fields refused, lists bounded,
// hex lowercase and of exact length, duplicates refused, and every refusal
// E_ATT_MANIFEST naming the field (e.g. `platforms[1].reference.images[0].pcr0`).
import { fromHex, toHex } from './bytes.ts';
import { AttestationError } from './errors.ts';

export function manifestFail(field: string, why: string): never {
  throw new AttestationError('E_ATT_MANIFEST', `${field} ${why}`);
}

/** An object with exactly the `required` keys and any of the `optional` ones. */
export function fieldRecord(value: unknown, field: string, required: readonly string[], optional: readonly string[] = []): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) manifestFail(field, 'must be an object');
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (!required.includes(key) && !optional.includes(key)) manifestFail(`${field}.${key}`, 'is not a known field');
  }
  for (const key of required) if (!(key in obj)) manifestFail(`${field}.${key}`, 'is missing');
  return obj;
}

export function fieldList(value: unknown, field: string, min: number, max: number): unknown[] {
  if (!Array.isArray(value)) manifestFail(field, 'must be an array');
  if (value.length < min || value.length > max) manifestFail(field, `must hold ${min}..${max} entries, has ${value.length}`);
  return value;
}

export function fieldHex(value: unknown, field: string, bytes: number): Uint8Array {
  const out = typeof value === 'string' ? fromHex(value, bytes) : null;
  if (out === null) manifestFail(field, `must be ${bytes * 2} lowercase hex digits`);
  return out;
}

/** A bounded list of distinct hex values of `bytes` bytes each. */
export function fieldHexList(value: unknown, field: string, min: number, max: number, bytes: number): Uint8Array[] {
  const out = fieldList(value, field, min, max).map((item, i) => fieldHex(item, `${field}[${i}]`, bytes));
  rejectDuplicates(out.map(toHex), field);
  return out;
}

/** Refuses the first entry whose key repeats an earlier one's. */
export function rejectDuplicates(keys: string[], field: string): void {
  const seen = new Set<string>();
  keys.forEach((key, i) => {
    if (seen.has(key)) manifestFail(`${field}[${i}]`, 'is a duplicate');
    seen.add(key);
  });
}

export function fieldInteger(value: unknown, field: string, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) manifestFail(field, `must be an integer 0..${max}`);
  return value;
}

/** `allowDebug`, where a manifest may say it: only `false`, since a debuggable guest's memory is readable by its host. */
export function fieldNoDebug(value: unknown, field: string): false {
  if (value !== false) manifestFail(field, 'must be false: a debuggable guest exposes its memory to the host and is never accepted');
  return false;
}

/**
 * Refuses a JSON text in which one object names a key twice. JSON.parse keeps
 * the last value silently, so `"builds": [A], ..., "builds": [B]` would
 * accept B while a reader of the text sees A first: one manifest, two
 * meanings. `text` must already be valid JSON (JSON.parse accepted it), so
 * only strings, braces, brackets, colons and commas need telling apart.
 */
export function rejectDuplicateJsonKeys(text: string, field: string): void {
  const objects: Array<{ keys: Set<string>; expectKey: boolean } | null> = []; // null: an array
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    const top = objects[objects.length - 1];
    if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      if (top?.expectKey) {
        const key = JSON.parse(text.slice(i, end + 1)) as string; // Decoded: "a" and "\u0061" are one key.
        if (top.keys.has(key)) manifestFail(field, `names the key ${JSON.stringify(key)} twice in one object`);
        top.keys.add(key);
        top.expectKey = false;
      }
      i = end;
    } else if (c === '{') objects.push({ keys: new Set(), expectKey: true });
    else if (c === '[') objects.push(null);
    else if (c === '}' || c === ']') objects.pop();
    else if (c === ',' && top) top.expectKey = true;
  }
}
