/**
 * Form fields: a label, an optional hint the control is described by, and the control. The hint's id
 * is kept on the control (data-hint) so clearing an error restores its description.
 */
import { h } from './dom.ts';

export type Control = HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;

let uid = 0;

function describe(input: Control, hint: string | undefined): HTMLElement | null {
  if (!hint) return null;
  const hid = `${input.id}-hint`;
  input.dataset.hint = hid;
  input.setAttribute('aria-describedby', hid);
  return h('p', { class: 'hint', id: hid }, hint);
}

function ensureId(input: Control): void {
  if (!input.id) input.id = `f-${input.name || 'x'}-${++uid}`;
}

/** Label above, hint, then the control. */
export function field(labelText: string, input: Control, hint?: string): HTMLDivElement {
  ensureId(input);
  return h('div', { class: 'field' }, h('label', { for: input.id }, labelText), describe(input, hint), input);
}

/**
 * Adds a note below a field's control that the control is also described by (kept when errors are
 * cleared), e.g. a rule that depends on the chosen value.
 */
export function addNote(wrap: HTMLElement, note: HTMLElement): void {
  const input = wrap.querySelector<Control>('input, select, textarea');
  if (!input) return;
  const ids = [input.dataset.hint, note.id].filter(Boolean).join(' ');
  input.dataset.hint = ids;
  input.setAttribute('aria-describedby', ids);
  wrap.append(note);
}

/** A checkbox with its label beside it, the hint below. */
export function checkField(labelText: string, input: HTMLInputElement, hint?: string): HTMLDivElement {
  ensureId(input);
  const check = h('div', { class: 'check' }, input, h('label', { for: input.id }, labelText));
  return h('div', { class: 'field' }, check, describe(input, hint));
}

export const text = (
  name: string,
  value: string | null | undefined,
  extra: Record<string, string | number> = {},
): HTMLInputElement => h('input', { type: 'text', name, value: value ?? '', ...extra });

export function select(
  name: string,
  options: readonly (readonly [value: string, label: string])[],
  selected: string,
): HTMLSelectElement {
  return h(
    'select',
    { name },
    options.map(([value, label]) =>
      h('option', { value, ...(value === selected ? { selected: true } : {}) }, label),
    ),
  );
}

export const checkbox = (name: string, checked: boolean): HTMLInputElement =>
  h('input', { type: 'checkbox', name, ...(checked ? { checked: true } : {}) });
