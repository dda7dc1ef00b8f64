/**
 * What a page shows after a call: the API's own words in an alert (plus the way out: reload, sign
 * in again), field errors next to their fields, or a short confirmation.
 */
import type { Failure, FieldProblem } from './api.ts';
import { type Child, h } from './dom.ts';
import type { Control } from './fields.ts';
import { here } from './page.ts';

export const alert = (...children: Child[]): HTMLDivElement =>
  h('div', { class: 'alert', role: 'alert' }, children);

/** The "How to fix" line the API adds to some failures. */
export const howToFix = (fix: string, attrs: Record<string, string> = {}): HTMLParagraphElement =>
  h('p', attrs, h('strong', {}, 'How to fix: '), fix);

const signInAgainUrl = (): string => `/api/auth/login?returnTo=${encodeURIComponent(here())}`;

/** An alert for a failed call. */
export function problem(r: Failure): HTMLDivElement {
  const b = r.body || {};
  if (r.status === 412) {
    return alert(
      h('p', {}, h('strong', {}, 'This was changed by someone else'), ' since you opened this page.'),
      h(
        'p',
        {},
        'Nothing was saved. Your changes are still in the form: copy what you need, then reload to see the latest version.',
      ),
      h('button', { type: 'button', class: 'secondary', onclick: () => location.reload() }, 'Reload'),
    );
  }
  if (r.status === 401 && b.code === 'reauthentication_required') {
    // A fresh sign-in (docs/security.md AD5): sign out, then back here through the sign-in page.
    return h(
      'div',
      { class: 'alert info', role: 'alert' },
      h(
        'p',
        {},
        h('strong', {}, 'Please sign in again. '),
        b.detail || 'This change needs a recent sign-in.',
      ),
      h(
        'form',
        { method: 'post', action: '/api/auth/logout' },
        h('input', { type: 'hidden', name: 'returnTo', value: signInAgainUrl() }),
        h('button', { type: 'submit' }, 'Sign in again'),
      ),
    );
  }
  if (r.status === 401) {
    return alert(
      h('p', {}, 'Your session has ended.'),
      h('p', {}, h('a', { href: signInAgainUrl() }, 'Sign in again')),
    );
  }
  const list = Array.isArray(b.errors)
    ? h(
        'ul',
        {},
        b.errors.map((e) => h('li', {}, `${e.field}: ${e.message}`)),
      )
    : null;
  return alert(
    h('p', {}, b.detail || `The request failed (HTTP ${r.status}).`),
    list,
    b.instance ? h('p', { class: 'muted' }, `Reference: ${String(b.instance).split(':').pop()}`) : null,
  );
}

/** Clears one field's message and restores its description. */
function clearField(input: Control): void {
  for (const el of input.closest('.field')?.querySelectorAll('.field-msg') ?? []) el.remove();
  input.removeAttribute('aria-invalid');
  if (input.dataset.hint) input.setAttribute('aria-describedby', input.dataset.hint);
  else input.removeAttribute('aria-describedby');
}

/** Clears earlier messages of a form. */
export function clearErrors(form: HTMLFormElement): void {
  for (const el of form.querySelectorAll('.field-msg')) el.remove();
  for (const input of form.querySelectorAll<Control>('[aria-invalid]')) clearField(input);
}

/** Shows a message (and a fix) under the named field; false when the form has no such field. */
export function fieldError(form: HTMLFormElement, name: string, message: string, fix?: string): boolean {
  const input = form.querySelector<Control>(`[name="${name}"]`);
  const wrap = input?.closest('.field');
  if (!input || !wrap) return false;
  const ids = input.dataset.hint ? [input.dataset.hint] : [];
  const eid = `${input.id}-error`;
  wrap.append(h('p', { class: 'error field-msg', id: eid }, message));
  ids.push(eid);
  if (fix) {
    const fid = `${input.id}-fix`;
    wrap.append(howToFix(fix, { class: 'fix field-msg', id: fid }));
    ids.push(fid);
  }
  input.setAttribute('aria-invalid', 'true');
  input.setAttribute('aria-describedby', ids.join(' '));
  // Once the admin changes the value, the message is about a value no longer there.
  input.addEventListener('input', () => clearField(input), { once: true });
  return true;
}

/** A failed call on a form: field errors next to their fields, everything else in the form's alert area. */
export function formFailure(form: HTMLFormElement, box: HTMLElement, r: Failure): void {
  clearErrors(form);
  const errors: FieldProblem[] = Array.isArray(r.body?.errors) ? r.body.errors : [];
  const rest = errors.filter(
    (e) => !fieldError(form, String(e.field).split('.')[0] ?? '', `This ${e.message}.`),
  );
  if (errors.length > 0 && rest.length === 0) {
    box.replaceChildren(alert(h('p', {}, 'Some fields need attention: see the messages below them.')));
  } else {
    box.replaceChildren(problem({ ...r, body: { ...r.body, errors: rest.length ? rest : undefined } }));
  }
  const first = form.querySelector<HTMLElement>('[aria-invalid="true"]');
  if (first) first.focus();
}

export function success(box: HTMLElement, message: string): void {
  box.replaceChildren(h('div', { class: 'alert ok', role: 'status' }, h('p', {}, message)));
}
