// Applies a delta (docs/protocol.md) to the client's copy of the state, in
// place: `set` = [i, v, i, v, …] gives leaf i of the previous state the value
// v, then `ops` (RFC 6902) change what changes shape. Leaves are the scalars
// of the document in depth-first order, object keys sorted by code point
// (the server's order: the byte order of their UTF-8), array elements in order.
// Throws when the delta does not fit the copy: the caller resyncs.
import { applyPatch } from 'fast-json-patch/index.mjs';

// Code point order; plain `<` on strings compares UTF-16 code units, which
// puts U+10000 and above before U+E000–U+FFFF.
export function byCodePoint(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i);
    const y = b.codePointAt(i);
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

/** The leaves of `doc` in leaf order, as [container, key] pairs. */
export function leaves(doc, out = []) {
  if (Array.isArray(doc)) {
    doc.forEach((v, i) => (v !== null && typeof v === 'object' ? leaves(v, out) : out.push([doc, i])));
  } else {
    for (const k of Object.keys(doc).sort(byCodePoint)) {
      const v = doc[k];
      if (v !== null && typeof v === 'object') leaves(v, out);
      else out.push([doc, k]);
    }
  }
  return out;
}

export function applyDelta(state, msg) {
  const set = msg.set ?? [];
  if (!Array.isArray(set) || set.length % 2 !== 0) throw new Error('set is not a list of pairs');
  if (set.length > 0) {
    const refs = leaves(state);
    for (let k = 0; k < set.length; k += 2) {
      const ref = refs[set[k]];
      const value = set[k + 1];
      if (!ref) throw new Error(`leaf ${set[k]} of ${refs.length} does not exist`);
      if (value !== null && typeof value === 'object') throw new Error(`leaf ${set[k]} set to an object`);
      ref[0][ref[1]] = value;
    }
  }
  const ops = msg.ops ?? [];
  // Validated, so a patch that does not fit throws instead of half-applying.
  if (ops.length > 0) applyPatch(state, ops, true, true);
}
