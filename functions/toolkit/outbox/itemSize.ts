/**
 * DynamoDB's item size: attribute names plus values, by the rules in the developer guide
 * ("Item sizes and formats"): strings and binary by their bytes, numbers about one byte per two
 * digits plus one, maps and lists 3 bytes plus one per element plus their contents, 1 byte for
 * booleans and null. An estimate on the safe side, good for rejecting a commit before the call.
 */
export function estimateItemSize(item: Readonly<Record<string, unknown>>): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) {
    if (value === undefined) continue;
    size += Buffer.byteLength(name) + valueSize(value);
  }
  return size;
}

function valueSize(value: unknown): number {
  if (value === null || typeof value === 'boolean') return 1;
  if (typeof value === 'string') return Buffer.byteLength(value);
  if (typeof value === 'number' || typeof value === 'bigint') return Math.ceil(String(value).replace(/[-.]/g, '').length / 2) + 1;
  if (value instanceof Uint8Array) return value.byteLength;
  if (Array.isArray(value)) return 3 + value.reduce<number>((sum, v) => sum + 1 + valueSize(v), 0);
  if (value instanceof Set) return [...value].reduce<number>((sum, v) => sum + valueSize(v), 0);
  if (typeof value === 'object') {
    return 3 + Object.entries(value).reduce((sum, [k, v]) => (v === undefined ? sum : sum + 1 + Buffer.byteLength(k) + valueSize(v)), 0);
  }
  return Buffer.byteLength(String(value));
}
