/**
 * A SCIM body's strings must be Unicode text. JSON lets a lone surrogate through as an escape
 * (`"\ud800"`, RFC 8259 §8.2), but it has no UTF-8 form: `encodeURIComponent` throws on it, and a
 * Table key or column cannot hold it faithfully. Such a body is refused as a whole (400
 * invalidValue) before any of it is read, whichever attribute carries the string, kept or ignored.
 */
import { invalidValue } from './errors.ts';
import { isObject } from './keys.ts';

/** Half of a surrogate pair (in a `u` pattern a whole pair is one character, never Cs). */
export const LONE_SURROGATE = /\p{Cs}/u;

/** Attribute names shown in an error's detail; anything else is shown as `…`. */
const SHOWN_NAME = /^[\w.:$-]{1,100}$/;

/**
 * The parsed body itself when every string in it, names included, is Unicode text. Walked with a
 * stack of its own: JSON.parse takes nesting deeper than the call stack would.
 */
export function wellFormedBody<T>(body: T): T {
  const pending: Array<{ value: unknown; at: string }> = [{ value: body, at: '' }];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const { value, at } = next;
    if (typeof value === 'string') {
      if (LONE_SURROGATE.test(value)) throw invalidValue(at || 'body', 'must be Unicode text');
    } else if (Array.isArray(value)) {
      for (const item of value) pending.push({ value: item, at });
    } else if (isObject(value)) {
      for (const [name, item] of Object.entries(value)) {
        if (LONE_SURROGATE.test(name))
          throw invalidValue(at || 'body', 'attribute names must be Unicode text');
        const shown = SHOWN_NAME.test(name) ? name : '…';
        pending.push({ value: item, at: (at ? `${at}.${shown}` : shown).slice(0, 200) });
      }
    }
  }
  return body;
}
