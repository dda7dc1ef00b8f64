/** The console's building blocks above single elements: tables, buttons that work, copy boxes, pages. */
import { type Child, h } from './dom.ts';
import { clearErrors } from './feedback.ts';

export function table(headers: string[], rows: Node[]): HTMLTableElement {
  return h(
    'table',
    {},
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        headers.map((x) => h('th', { scope: 'col' }, x)),
      ),
    ),
    h('tbody', {}, rows),
  );
}

/** The items as a table, one row each; a line saying so when there are none. */
export function tableOr<T>(
  headers: string[],
  items: T[],
  row: (item: T) => HTMLTableRowElement,
  none: string,
): HTMLElement {
  return items.length ? table(headers, items.map(row)) : h('p', { class: 'muted' }, none);
}

/** A cell labelled with its column, which the narrow layout shows in place of the header row. */
export const td = (label: string, ...content: Child[]): HTMLTableCellElement =>
  h('td', { 'data-label': label }, content);

/** Where a page's messages appear; screen readers announce what is put there. */
export const liveRegion = (): HTMLDivElement => h('div', { 'aria-live': 'polite' });

/** A titled card (a form or a group of actions), named by its heading. */
export const section = (id: string, title: string, ...content: Child[]): HTMLElement =>
  h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id }, title), content);

/** The button is disabled while its work runs, so a double click does not send twice. */
export async function busy(button: HTMLButtonElement, work: () => Promise<unknown>): Promise<void> {
  button.disabled = true;
  try {
    await work();
  } finally {
    button.disabled = false;
  }
}

/** A secondary button that runs `work`, disabled meanwhile. */
export function actionButton(
  label: Child,
  work: () => Promise<unknown>,
  attrs: Record<string, string> = {},
): HTMLButtonElement {
  const button: HTMLButtonElement = h(
    'button',
    { type: 'button', class: 'secondary', ...attrs, onclick: () => busy(button, work) },
    label,
  );
  return button;
}

/**
 * Submitting the form (button or Enter) runs `work` with what the form holds instead of a page load,
 * after clearing the form's earlier field errors and, when given, its message area.
 */
export function onSubmit(
  form: HTMLFormElement,
  box: HTMLElement | null,
  work: (data: FormData) => Promise<unknown>,
): void {
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const button = form.querySelector<HTMLButtonElement>('button[type=submit]');
    if (!button) return;
    busy(button, async () => {
      clearErrors(form);
      box?.replaceChildren();
      await work(new FormData(form));
    });
  });
}

/** The form's last row: its submit button. */
export const submitRow = (label: string): HTMLDivElement =>
  h('div', { class: 'actions' }, h('button', { type: 'submit' }, label));

/** A two-step destructive action: the first press asks, the second does it. */
export function confirmButton(
  label: string,
  question: string,
  action: () => Promise<unknown>,
): HTMLSpanElement {
  const wrap = h('span', {});
  const ask = h(
    'button',
    {
      type: 'button',
      class: 'danger',
      onclick: () => {
        const yes: HTMLButtonElement = h(
          'button',
          { type: 'button', class: 'danger', onclick: () => busy(yes, action) },
          `Yes, ${label.toLowerCase()}`,
        );
        const no = h(
          'button',
          {
            type: 'button',
            class: 'secondary',
            onclick: () => {
              wrap.replaceChildren(ask);
              ask.focus();
            },
          },
          'Cancel',
        );
        wrap.replaceChildren(h('span', { class: 'actions' }, h('span', {}, question), yes, no));
        yes.focus();
      },
    },
    label,
  );
  wrap.append(ask);
  return wrap;
}

/** A value with a Copy button; where the clipboard is refused, the value is selected instead. */
export function copyBox(label: string, value: string): HTMLDivElement {
  const code = h('code', {}, value);
  const note = h('span', { class: 'muted', 'aria-live': 'polite' });
  const button = h(
    'button',
    {
      type: 'button',
      class: 'secondary',
      'aria-label': `Copy ${label}`,
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(value);
          note.textContent = 'Copied.';
        } catch {
          const range = document.createRange();
          range.selectNodeContents(code);
          const sel = window.getSelection();
          sel?.removeAllRanges();
          sel?.addRange(range);
          note.textContent = 'Selected: press Ctrl+C (⌘C) to copy.';
        }
      },
    },
    'Copy',
  );
  return h('div', { class: 'copy' }, code, button, note);
}

/** A secret just issued (a client secret, an API token): the API shows it this once. */
export function secretCard(heading: string, label: string, value: string, ...more: Child[]): HTMLDivElement {
  return h(
    'div',
    { class: 'secret card' },
    h('p', {}, h('strong', {}, heading), 'copy it now, it is shown only this once.'),
    copyBox(label, value),
    more,
  );
}

/** Links to the first and the next page of a list the API pages with a cursor. */
export function pager(params: URLSearchParams, nextCursor: string | null | undefined): HTMLElement | null {
  const links: HTMLAnchorElement[] = [];
  if (params.get('cursor')) {
    const first = new URLSearchParams(params);
    first.delete('cursor');
    const q = first.toString();
    links.push(h('a', { href: `${location.pathname}${q ? `?${q}` : ''}` }, 'First page'));
  }
  if (nextCursor) {
    const next = new URLSearchParams(params);
    next.set('cursor', nextCursor);
    links.push(h('a', { href: `${location.pathname}?${next}` }, 'Next page'));
  }
  return links.length ? h('nav', { class: 'pager', 'aria-label': 'Pages' }, links) : null;
}
