/**
 * The console's one DOM helper: `h(tag, attrs, ...children)` builds an element. Text always goes in
 * as text nodes (never innerHTML), so no value from the API is ever parsed as HTML.
 */

/** What can be appended: nodes, text, nothing (null, undefined, false), or lists of those. */
export type Child = Node | string | number | null | undefined | false | readonly Child[];

type AttrValue = string | number | boolean | null | undefined;
/** `on<event>` keys take a listener; every other key is an attribute (null, undefined, false: left out). */
export type Attrs = Record<string, AttrValue | ((event: Event) => unknown)>;

/** Appends children in order, flattening lists and skipping empty ones. */
export function append(el: Element, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, ...child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = String(value);
    // `value` and `checked` are the controls' live state, not their default (the attribute).
    else if (key === 'value') (el as HTMLInputElement).value = String(value);
    else if (key === 'checked') (el as HTMLInputElement).checked = true;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, ...children);
  return el;
}
