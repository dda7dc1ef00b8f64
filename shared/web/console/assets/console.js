/*
 * Admin console client: plain JavaScript, no dependencies. Each console URL is a full page load of
 * the server's shell; this script fills <main> for that URL from the management API, sending the
 * session cookie and X-Broker-Csrf: 1. Every rule is the API's: this file only shows its answers
 * (field errors next to their fields, 412 as "changed by someone else", fresh sign-in for AD5).
 * DOM nodes are built with textContent (never innerHTML), so no API value is ever parsed as HTML.
 */
(() => {
  const BASE = '/api/admin';
  const API = '/api/manage';
  const main = document.getElementById('main');
  const REDIRECT_URI = document.body.dataset.redirectUri || '';
  const ME = document.body.dataset.username || '';
  let uid = 0;

  // ---- DOM helpers ------------------------------------------------------------------------------

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.className = v;
      else if (k === 'value') el.value = v;
      else if (k === 'checked') el.checked = true;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat(3)) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : String(c));
    }
    return el;
  }

  function show(title, ...content) {
    document.title = `${title} – ${document.title.split(' – ').slice(1).join(' – ')}`;
    main.replaceChildren(h('h1', {}, title), ...content.filter((c) => c !== null && c !== undefined));
  }

  const consoleUrl = (...parts) => [BASE, ...parts.map((p) => encodeURIComponent(p))].join('/');
  const here = () => location.pathname + location.search;

  function when(iso) {
    if (!iso) return '—';
    return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
  }

  function field(labelText, input, hint) {
    if (!input.id) input.id = `f-${input.name || 'x'}-${++uid}`;
    const parts = [h('label', { for: input.id }, labelText)];
    if (hint) {
      const hid = `${input.id}-hint`;
      parts.push(h('p', { class: 'hint', id: hid }, hint));
      input.dataset.hint = hid;
      input.setAttribute('aria-describedby', hid);
    }
    parts.push(input);
    return h('div', { class: 'field' }, parts);
  }

  function checkField(labelText, input, hint) {
    if (!input.id) input.id = `f-${input.name || 'x'}-${++uid}`;
    const parts = [h('div', { class: 'check' }, input, h('label', { for: input.id }, labelText))];
    if (hint) {
      const hid = `${input.id}-hint`;
      parts.push(h('p', { class: 'hint', id: hid }, hint));
      input.dataset.hint = hid;
      input.setAttribute('aria-describedby', hid);
    }
    return h('div', { class: 'field' }, parts);
  }

  const text = (name, value, extra) => h('input', { type: 'text', name, value: value ?? '', ...extra });

  function select(name, options, selected) {
    return h(
      'select',
      { name },
      options.map(([value, label]) =>
        h('option', { value, ...(value === selected ? { selected: true } : {}) }, label),
      ),
    );
  }

  function table(headers, rows) {
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

  const td = (label, ...content) => h('td', { 'data-label': label }, content);

  function copyBox(label, value) {
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
            sel.removeAllRanges();
            sel.addRange(range);
            note.textContent = 'Selected: press Ctrl+C (⌘C) to copy.';
          }
        },
      },
      'Copy',
    );
    return h('div', { class: 'copy' }, code, button, note);
  }

  function lines(value) {
    return value
      .split(/[\n,]/)
      .map((s) => s.trim())
      .filter(Boolean);
  }

  // ---- API ---------------------------------------------------------------------------------------

  async function api(method, path, opts = {}) {
    const headers = { 'X-Broker-Csrf': '1', Accept: 'application/json' };
    if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
    if (opts.etag) headers['If-Match'] = opts.etag;
    let res;
    try {
      res = await fetch(API + path, {
        method,
        headers,
        credentials: 'same-origin',
        ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
      });
    } catch {
      return {
        ok: false,
        status: 0,
        body: { detail: 'The broker could not be reached. Check the connection and try again.' },
      };
    }
    const raw = await res.text();
    let body = null;
    if (raw) {
      try {
        body = JSON.parse(raw);
      } catch {
        body = null;
      }
    }
    return { ok: res.ok, status: res.status, body, etag: res.headers.get('ETag') || body?.etag || null };
  }

  /** An alert for a failed call: the API's own words, plus the way out (reload, sign in again). */
  function problem(r) {
    const b = r.body || {};
    if (r.status === 412) {
      return h(
        'div',
        { class: 'alert', role: 'alert' },
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
      const back = `/api/auth/login?returnTo=${encodeURIComponent(here())}`;
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
          h('input', { type: 'hidden', name: 'returnTo', value: back }),
          h('button', { type: 'submit' }, 'Sign in again'),
        ),
      );
    }
    if (r.status === 401) {
      return h(
        'div',
        { class: 'alert', role: 'alert' },
        h('p', {}, 'Your session has ended.'),
        h(
          'p',
          {},
          h('a', { href: `/api/auth/login?returnTo=${encodeURIComponent(here())}` }, 'Sign in again'),
        ),
      );
    }
    const list = Array.isArray(b.errors)
      ? h(
          'ul',
          {},
          b.errors.map((e) => h('li', {}, `${e.field}: ${e.message}`)),
        )
      : null;
    return h(
      'div',
      { class: 'alert', role: 'alert' },
      h('p', {}, b.detail || `The request failed (HTTP ${r.status}).`),
      list,
      b.instance ? h('p', { class: 'muted' }, `Reference: ${String(b.instance).split(':').pop()}`) : null,
    );
  }

  /** Clears earlier messages of a form. */
  function clearErrors(form) {
    for (const el of form.querySelectorAll('.field-msg')) el.remove();
    for (const input of form.querySelectorAll('[aria-invalid]')) {
      input.removeAttribute('aria-invalid');
      if (input.dataset.hint) input.setAttribute('aria-describedby', input.dataset.hint);
      else input.removeAttribute('aria-describedby');
    }
  }

  /** Shows a message (and a fix) under the named field; false when the form has no such field. */
  function fieldError(form, name, message, fix) {
    const input = form.querySelector(`[name="${name}"]`);
    if (!input) return false;
    const wrap = input.closest('.field');
    const ids = input.dataset.hint ? [input.dataset.hint] : [];
    const eid = `${input.id}-error`;
    wrap.append(h('p', { class: 'error field-msg', id: eid }, message));
    ids.push(eid);
    if (fix) {
      const fid = `${input.id}-fix`;
      wrap.append(h('p', { class: 'fix field-msg', id: fid }, h('strong', {}, 'How to fix: '), fix));
      ids.push(fid);
    }
    input.setAttribute('aria-invalid', 'true');
    input.setAttribute('aria-describedby', ids.join(' '));
    return true;
  }

  /** A failed call on a form: field errors next to their fields, everything else in the form's alert area. */
  function formFailure(form, box, r) {
    clearErrors(form);
    const errors = Array.isArray(r.body?.errors) ? r.body.errors : [];
    const rest = errors.filter((e) => !fieldError(form, String(e.field).split('.')[0], `This ${e.message}.`));
    if (errors.length > 0 && rest.length === 0) {
      box.replaceChildren(
        h(
          'div',
          { class: 'alert', role: 'alert' },
          h('p', {}, 'Some fields need attention: see the messages below them.'),
        ),
      );
    } else {
      box.replaceChildren(problem({ ...r, body: { ...r.body, errors: rest.length ? rest : undefined } }));
    }
    const first = form.querySelector('[aria-invalid="true"]');
    if (first) first.focus();
  }

  function success(box, message) {
    box.replaceChildren(h('div', { class: 'alert ok', role: 'status' }, h('p', {}, message)));
  }

  async function busy(button, work) {
    button.disabled = true;
    try {
      await work();
    } finally {
      button.disabled = false;
    }
  }

  /** A two-step destructive action: the first press asks, the second does it. */
  function confirmButton(label, question, action) {
    const wrap = h('span', {});
    const ask = h(
      'button',
      {
        type: 'button',
        class: 'danger',
        onclick: () => {
          const yes = h(
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

  function pager(params, nextCursor) {
    const links = [];
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

  /** Only the non-empty query parameters (the API refuses empty filters). */
  function query(params, names) {
    const q = new URLSearchParams();
    for (const n of names) {
      const v = params.get(n);
      if (v) q.set(n, v);
    }
    const s = q.toString();
    return s ? `?${s}` : '';
  }

  // ---- Integrations ------------------------------------------------------------------------------

  const DAY = 86_400_000;

  function expiry(secret) {
    const on = secret?.expiresOn;
    if (!on) return h('span', { class: 'muted' }, 'Expiry date not recorded');
    const days = Math.floor((Date.parse(on) - Date.now()) / DAY);
    if (days < 0) return h('span', { class: 'warn' }, `Warning: expired on ${on.slice(0, 10)}`);
    if (days <= 30)
      return h('span', { class: 'warn' }, `Warning: expires in ${days} days (${on.slice(0, 10)})`);
    return `${on.slice(0, 10)}`;
  }

  function lastTest(t) {
    if (!t) return h('span', { class: 'muted' }, 'Not tested');
    return h(
      'span',
      {},
      h('span', { class: `status ${t.ok ? 'ok' : 'failed'}` }, t.ok ? 'Passed' : 'Failed'),
      ' ',
      when(t.at),
      t.reason ? ` (${t.reason.replace(/_/g, ' ')})` : '',
    );
  }

  const statusBadge = (s) => h('span', { class: `status ${s}` }, s === 'active' ? 'Active' : 'Inactive');

  async function integrationsList() {
    const r = await api('GET', '/integrations');
    if (!r.ok) return show('Integrations', problem(r));
    const items = r.body.items;
    show(
      'Integrations',
      h('p', {}, h('a', { class: 'button', href: consoleUrl('integrations', 'new') }, 'Configure Azure AD')),
      items.length
        ? table(
            ['Title', 'Status', 'Tenant', 'Client secret expiry', 'Last activation test'],
            items.map((i) =>
              h(
                'tr',
                {},
                td('Title', h('a', { href: consoleUrl('integrations', i.id) }, i.title)),
                td('Status', statusBadge(i.status)),
                td('Tenant', h('span', { class: 'mono' }, i.tenant)),
                td('Client secret expiry', expiry(i.clientSecret)),
                td('Last activation test', lastTest(i.lastTest)),
              ),
            ),
          )
        : h(
            'p',
            { class: 'muted' },
            'No integrations yet. Configure Azure AD to let users sign in with Entra ID.',
          ),
    );
  }

  /** Where an activation failure belongs in the form. */
  const FAILURE_FIELD = {
    wrong_secret: 'clientSecret',
    secret_expired: 'clientSecret',
    unknown_application: 'applicationId',
    unknown_tenant: 'tenant',
  };

  async function integrationPage(id) {
    let cur = null;
    let etag = null;
    if (id !== 'new') {
      const r = await api('GET', `/integrations/${encodeURIComponent(id)}`);
      if (!r.ok) return show('Integration', problem(r));
      cur = r.body;
      etag = r.etag;
    }
    const form = h('form', { novalidate: true });
    const box = h('div', { 'aria-live': 'polite' });
    const summary = h('div', {});
    const buttons = h('div', { class: 'actions' });
    const secretHint = () =>
      cur
        ? 'Leave empty to keep the current secret. To rotate it, enter the new secret’s Value. Never shown again after saving.'
        : 'The secret’s Value (not its Secret ID) from Certificates & secrets. Never shown again after saving.';
    const secretInput = h('input', {
      type: 'password',
      name: 'clientSecret',
      autocomplete: 'new-password',
      maxlength: 1024,
    });
    const secretField = field('Client secret', secretInput, secretHint());

    form.append(
      field(
        'Title',
        text('title', cur?.title, { maxlength: 100, autocomplete: 'off' }),
        'Users see “Continue with <Title>”; also the name in a user’s Verify type.',
      ),
      field(
        'Application ID',
        text('applicationId', cur?.applicationId, { autocomplete: 'off', spellcheck: 'false' }),
        'Application (client) ID from the app registration’s Overview page.',
      ),
      field(
        'Tenant',
        text('tenant', cur?.tenant, { autocomplete: 'off', spellcheck: 'false' }),
        'Directory (tenant) ID, a verified domain such as contoso.onmicrosoft.com, or “organizations”.',
      ),
      secretField,
      field(
        'Client secret expires on (optional)',
        h('input', { type: 'date', name: 'clientSecretExpiresOn' }),
        'From the Expires column in Entra; used for the expiry warning.',
      ),
      h(
        'details',
        {},
        h('summary', {}, 'Optional settings'),
        field(
          'Cloud',
          select(
            'cloud',
            [
              ['public', 'Public (login.microsoftonline.com)'],
              ['usgov', 'US Government'],
              ['china', 'China (21Vianet)'],
            ],
            cur?.cloud || 'public',
          ),
        ),
        field(
          'Allowed tenants',
          h('textarea', { name: 'allowedTenants', rows: 3, value: (cur?.allowedTenants || []).join('\n') }),
          'Only with tenant “organizations”: the tenant IDs allowed to sign in, one per line.',
        ),
        field(
          'Match claim',
          select(
            'matchClaim',
            [
              ['preferred_username', 'preferred_username'],
              ['upn', 'upn'],
              ['email', 'email'],
            ],
            cur?.matchClaim || 'preferred_username',
          ),
          'The ID token claim compared with the user’s email on the first sign-in.',
        ),
      ),
      box,
      buttons,
    );

    function values() {
      const f = new FormData(form);
      const v = {
        title: String(f.get('title') || ''),
        applicationId: String(f.get('applicationId') || '').trim(),
        tenant: String(f.get('tenant') || '').trim(),
        cloud: String(f.get('cloud')),
        matchClaim: String(f.get('matchClaim')),
        allowedTenants: lines(String(f.get('allowedTenants') || '')),
      };
      const secret = String(f.get('clientSecret') || '');
      const expiresOn = String(f.get('clientSecretExpiresOn') || '');
      return { v, secret, expiresOn };
    }

    function changes(v) {
      const patch = {};
      for (const k of ['title', 'applicationId', 'tenant', 'cloud', 'matchClaim'])
        if (v[k] !== cur[k]) patch[k] = v[k];
      if (v.allowedTenants.join(',') !== (cur.allowedTenants || []).join(','))
        patch.allowedTenants = v.allowedTenants;
      return patch;
    }

    /** Saves the form: create, or patch what changed and rotate a typed secret. False when it failed. */
    async function save() {
      const { v, secret, expiresOn } = values();
      if (!cur) {
        const r = await api('POST', '/integrations', {
          body: {
            kind: 'azure-ad',
            ...v,
            ...(v.allowedTenants.length ? {} : { allowedTenants: undefined }),
            clientSecret: secret,
            ...(expiresOn ? { clientSecretExpiresOn: expiresOn } : {}),
          },
        });
        if (!r.ok) {
          formFailure(form, box, r);
          return false;
        }
        cur = r.body;
        etag = r.etag;
        history.replaceState(null, '', consoleUrl('integrations', cur.id));
      } else {
        const patch = changes(v);
        if (Object.keys(patch).length) {
          const r = await api('PATCH', `/integrations/${cur.id}`, { body: patch, etag });
          if (!r.ok) {
            formFailure(form, box, r);
            return false;
          }
          cur = r.body;
          etag = r.etag;
        }
        if (secret) {
          const r = await api('PUT', `/integrations/${cur.id}/client-secret`, {
            body: { clientSecret: secret, ...(expiresOn ? { expiresOn } : {}) },
            etag,
          });
          if (!r.ok) {
            formFailure(form, box, r);
            return false;
          }
          cur = r.body;
          etag = r.etag;
        }
      }
      secretInput.value = '';
      return true;
    }

    async function activate() {
      clearErrors(form);
      box.replaceChildren();
      if (!(await save())) return refresh();
      const r = await api('POST', `/integrations/${cur.id}/activate`, { etag });
      if (r.status === 422) {
        if (r.body?.etag) etag = r.body.etag;
        cur = { ...cur, status: 'inactive', lastTest: r.body?.lastTest || cur.lastTest };
        const where = FAILURE_FIELD[r.body?.code];
        const message = `Activation failed: ${r.body?.detail || 'the connection test failed.'}`;
        if (!where || !fieldError(form, where, message, r.body?.fix)) {
          box.replaceChildren(
            h(
              'div',
              { class: 'alert', role: 'alert' },
              h('p', {}, message),
              r.body?.fix ? h('p', {}, h('strong', {}, 'How to fix: '), r.body.fix) : null,
            ),
          );
        } else {
          box.replaceChildren(
            h(
              'div',
              { class: 'alert', role: 'alert' },
              h(
                'p',
                {},
                'Activation failed: the integration is saved but not active. See the message next to the field.',
              ),
            ),
          );
          form.querySelector(`[name="${where}"]`).focus();
        }
        return refresh();
      }
      if (!r.ok) {
        formFailure(form, box, r);
        return refresh();
      }
      cur = r.body;
      etag = r.etag;
      success(
        box,
        `${cur.title} is active. Users whose Verify type is ${cur.title} now sign in with Entra ID.`,
      );
      refresh();
    }

    async function saveOnly() {
      clearErrors(form);
      box.replaceChildren();
      if (await save()) success(box, 'Saved.');
      refresh();
    }

    async function rotate() {
      clearErrors(form);
      if (!secretInput.value) {
        fieldError(form, 'clientSecret', 'Enter the new secret’s Value to rotate it.');
        secretInput.focus();
        return;
      }
      const { expiresOn } = values();
      const r = await api('PUT', `/integrations/${cur.id}/client-secret`, {
        body: { clientSecret: secretInput.value, ...(expiresOn ? { expiresOn } : {}) },
        etag,
      });
      if (!r.ok) return formFailure(form, box, r);
      cur = r.body;
      etag = r.etag;
      secretInput.value = '';
      success(
        box,
        `Secret rotated (version ${cur.clientSecret?.version ?? 'new'}). Activate again to test it.`,
      );
      refresh();
    }

    async function setActive(on) {
      const r = await api('POST', `/integrations/${cur.id}/${on ? 'activate' : 'deactivate'}`, { etag });
      if (!r.ok) return formFailure(form, box, r);
      cur = r.body;
      etag = r.etag;
      success(box, `${cur.title} is ${cur.status}.`);
      refresh();
    }

    async function remove() {
      const r = await api('DELETE', `/integrations/${cur.id}`, { etag });
      if (r.status === 409) {
        box.replaceChildren(
          h(
            'div',
            { class: 'alert', role: 'alert' },
            h(
              'p',
              {},
              h('strong', {}, 'Not deleted: '),
              r.body?.detail || 'users are still assigned to this integration.',
            ),
            h(
              'p',
              {},
              'Change those users’ Verify type first, then delete. ',
              h(
                'a',
                { href: `${consoleUrl('users')}?verifyType=${encodeURIComponent(cur.id)}` },
                `Users with Verify type ${cur.title}`,
              ),
            ),
          ),
        );
        return refresh();
      }
      if (!r.ok) return formFailure(form, box, r);
      location.assign(consoleUrl('integrations'));
    }

    function refresh() {
      summary.replaceChildren(
        cur
          ? h(
              'dl',
              { class: 'facts card' },
              h('dt', {}, 'Status'),
              h('dd', { id: 'integration-status' }, statusBadge(cur.status)),
              h('dt', {}, 'Client secret'),
              h(
                'dd',
                {},
                cur.clientSecret
                  ? `Set (version ${cur.clientSecret.version || '—'}, updated ${when(cur.clientSecret.updatedOn)}). `
                  : 'Not set. ',
                expiry(cur.clientSecret),
              ),
              h('dt', {}, 'Last activation test'),
              h('dd', {}, lastTest(cur.lastTest)),
            )
          : h('p', { class: 'muted' }, 'Not saved yet.'),
      );
      const hint = secretField.querySelector('.hint');
      if (hint) hint.textContent = secretHint();
      const list = [];
      if (cur?.status !== 'active') {
        const b = h('button', { type: 'submit' }, 'Activate');
        list.push(b);
      } else {
        list.push(h('button', { type: 'submit' }, 'Save'));
      }
      if (cur) {
        if (cur.status !== 'active')
          list.push(
            h(
              'button',
              { type: 'button', class: 'secondary', onclick: (e) => busy(e.currentTarget, saveOnly) },
              'Save without activating',
            ),
          );
        list.push(
          h(
            'button',
            { type: 'button', class: 'secondary', onclick: (e) => busy(e.currentTarget, rotate) },
            'Rotate secret',
          ),
        );
        if (cur.status === 'active')
          list.push(
            h(
              'button',
              {
                type: 'button',
                class: 'secondary',
                onclick: (e) => busy(e.currentTarget, () => setActive(false)),
              },
              'Deactivate',
            ),
          );
        list.push(confirmButton('Delete', `Delete ${cur.title}?`, remove));
      }
      buttons.replaceChildren(...list);
    }

    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const button = form.querySelector('button[type=submit]');
      busy(button, cur?.status === 'active' ? saveOnly : activate);
    });
    refresh();
    show(
      cur ? `Integration: ${cur.title}` : 'Configure Azure AD',
      h('p', {}, h('a', { href: consoleUrl('integrations') }, '← All integrations')),
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'redirect-uri-label' },
        h('p', { class: 'label', id: 'redirect-uri-label' }, 'Redirect URI'),
        h(
          'p',
          { class: 'hint' },
          'Add this exact URI to the app registration in Entra (Authentication → Add a platform → Web) before activating.',
        ),
        copyBox('Redirect URI', cur?.redirectUri || REDIRECT_URI),
      ),
      summary,
      h('div', { class: 'card' }, form),
    );
  }

  // ---- Users -------------------------------------------------------------------------------------

  function verifyTypeText(vt) {
    return vt.kind === 'password' ? 'Password' : vt.title || vt.integrationId;
  }

  async function usersList() {
    const params = new URLSearchParams(location.search);
    const [r, ints] = await Promise.all([
      api('GET', `/users${query(params, ['prefix', 'verifyType', 'cursor'])}`),
      api('GET', '/integrations'),
    ]);
    const integrations = ints.ok ? ints.body.items : [];
    const filters = h(
      'form',
      {
        method: 'get',
        action: consoleUrl('users'),
        class: 'filters card',
        role: 'search',
        'aria-label': 'Find users',
      },
      field(
        'Username starts with',
        h('input', {
          type: 'search',
          name: 'prefix',
          value: params.get('prefix') || '',
          autocapitalize: 'none',
          spellcheck: 'false',
        }),
      ),
      field(
        'Verify type',
        select(
          'verifyType',
          [['', 'Any'], ['password', 'Password'], ...integrations.map((i) => [i.id, i.title])],
          params.get('verifyType') || '',
        ),
      ),
      h('button', { type: 'submit' }, 'Search'),
    );
    if (!r.ok) return show('Users', filters, problem(r));
    const items = r.body.items;
    show(
      'Users',
      filters,
      items.length
        ? table(
            ['Username', 'Display name', 'Verify type', 'Roles', 'State', 'Last sign-in'],
            items.map((u) =>
              h(
                'tr',
                {},
                td('Username', h('a', { href: consoleUrl('users', u.username) }, u.username)),
                td('Display name', u.displayName || '—'),
                td('Verify type', verifyTypeText(u.verifyType)),
                td('Roles', u.roles.join(', ') || '—'),
                td('State', u.disabled ? 'Disabled' : 'Enabled'),
                td('Last sign-in', when(u.lastLoginAt)),
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'No users match.'),
      pager(params, r.body.nextCursor),
    );
  }

  async function userPage(username) {
    const path = `/users/${encodeURIComponent(username)}`;
    const [r, ints] = await Promise.all([api('GET', path), api('GET', '/integrations')]);
    if (!r.ok) return show('User', problem(r));
    let user = r.body;
    let etag = r.etag;
    const integrations = ints.ok ? ints.body.items : [];
    const box = h('div', { 'aria-live': 'polite' });
    const currentVt = user.verifyType.kind === 'password' ? 'password' : user.verifyType.integrationId;
    const passwordInput = h('input', {
      type: 'password',
      name: 'password',
      autocomplete: 'new-password',
      maxlength: 1024,
    });
    const form = h(
      'form',
      { novalidate: true },
      field('Display name', text('displayName', user.displayName, { maxlength: 200, autocomplete: 'off' })),
      field(
        'Email',
        h('input', {
          type: 'email',
          name: 'email',
          value: user.email || '',
          autocomplete: 'off',
          maxlength: 254,
        }),
      ),
      field(
        'Verify type',
        select(
          'verifyType',
          [['password', 'Password'], ...integrations.map((i) => [i.id, i.title])],
          currentVt,
        ),
        'How this user proves who they are: a password here, or Entra ID through an integration.',
      ),
      field(
        'Password',
        passwordInput,
        `${user.hasPassword ? 'A password is set.' : 'No password is set.'} Type a new one to set it; leave empty to keep it as it is.`,
      ),
      user.hasPassword
        ? checkField('Remove the password', h('input', { type: 'checkbox', name: 'clearPassword' }))
        : null,
      field(
        'Roles',
        text('roles', user.roles.join(' '), { autocomplete: 'off', spellcheck: 'false' }),
        'Separated by spaces; “admin” can use this console.',
      ),
      checkField(
        'Disabled',
        h('input', { type: 'checkbox', name: 'disabled', ...(user.disabled ? { checked: true } : {}) }),
        'A disabled user cannot sign in and loses every session.',
      ),
      box,
      h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Save')),
    );

    form.addEventListener('submit', (e) => {
      e.preventDefault();
      busy(form.querySelector('button[type=submit]'), async () => {
        clearErrors(form);
        box.replaceChildren();
        const f = new FormData(form);
        const patch = {};
        const displayName = String(f.get('displayName') || '');
        if (displayName !== (user.displayName || '')) patch.displayName = displayName;
        const email = String(f.get('email') || '').trim();
        if (email !== (user.email || '')) patch.email = email || null;
        const vt = String(f.get('verifyType'));
        if (vt !== (user.verifyType.kind === 'password' ? 'password' : user.verifyType.integrationId)) {
          patch.verifyType = vt === 'password' ? 'password' : { integrationId: vt };
        }
        const roles = String(f.get('roles') || '')
          .split(/[\s,]+/)
          .filter(Boolean);
        if (roles.join(' ') !== user.roles.join(' ')) patch.roles = roles;
        const disabled = f.get('disabled') === 'on';
        if (disabled !== user.disabled) patch.disabled = disabled;
        let changed = false;
        if (Object.keys(patch).length) {
          const res = await api('PATCH', path, { body: patch, etag });
          if (!res.ok) return formFailure(form, box, res);
          user = res.body;
          etag = res.etag;
          changed = true;
        }
        const password = String(f.get('password') || '');
        if (password) {
          const res = await api('PUT', `${path}/password`, { body: { password }, etag });
          if (!res.ok) return formFailure(form, box, res);
          etag = res.etag || etag;
          changed = true;
        } else if (f.get('clearPassword') === 'on') {
          const res = await api('DELETE', `${path}/password`, { etag });
          if (!res.ok) return formFailure(form, box, res);
          etag = res.etag || etag;
          changed = true;
        }
        passwordInput.value = '';
        const fresh = await api('GET', path);
        if (fresh.ok) {
          user = fresh.body;
          etag = fresh.etag;
        }
        success(box, changed ? `Saved ${user.username}.` : 'Nothing to save: no field was changed.');
      });
    });

    const actionsBox = h('div', { 'aria-live': 'polite' });
    const binding = user.entraBinding;
    show(
      `User: ${user.username}`,
      h('p', {}, h('a', { href: consoleUrl('users') }, '← All users')),
      h('div', { class: 'card' }, form),
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'binding-h' },
        h('h2', { id: 'binding-h' }, 'Entra identity and sessions'),
        binding
          ? h(
              'dl',
              { class: 'facts' },
              h('dt', {}, 'Tenant ID'),
              h('dd', { class: 'mono' }, binding.tenantId),
              h('dt', {}, 'Object ID'),
              h('dd', { class: 'mono' }, binding.objectId),
              h('dt', {}, 'Bound'),
              h('dd', {}, when(binding.boundAt)),
            )
          : h(
              'p',
              { class: 'muted' },
              'No Entra identity is bound yet; it is bound at the first Entra sign-in.',
            ),
        actionsBox,
        h(
          'div',
          { class: 'actions' },
          binding
            ? confirmButton('Reset binding', 'Forget the bound Entra identity?', async () => {
                const res = await api('DELETE', `${path}/binding`, { etag });
                if (!res.ok) return actionsBox.replaceChildren(problem(res));
                etag = res.etag || etag;
                success(actionsBox, 'Binding reset: the next Entra sign-in binds again by the match claim.');
              })
            : null,
          confirmButton('Sign out everywhere', `Sign ${user.username} out of every session?`, async () => {
            const res = await api('DELETE', `${path}/sessions`);
            if (!res.ok) return actionsBox.replaceChildren(problem(res));
            success(actionsBox, `${user.username} is signed out everywhere.`);
            if (user.username === ME) location.reload();
          }),
        ),
      ),
    );
  }

  // ---- Global settings ---------------------------------------------------------------------------

  async function settingsPage() {
    const r = await api('GET', '/settings');
    if (!r.ok) return show('Global settings', problem(r));
    let s = r.body;
    let etag = r.etag;
    const box = h('div', { 'aria-live': 'polite' });
    const form = h(
      'form',
      { novalidate: true },
      checkField(
        'Allow OAuth Passwords',
        h('input', {
          type: 'checkbox',
          name: 'allowOAuthPasswords',
          ...(s.allowOAuthPasswords ? { checked: true } : {}),
        }),
        'Users whose Verify type is an integration may also sign in with a password set here (this skips Entra ID’s MFA).',
      ),
      field(
        'Session lifetime (minutes)',
        h('input', {
          type: 'number',
          name: 'sessionLifetimeMinutes',
          value: String(s.sessionLifetimeMinutes),
          min: 5,
          max: 1440,
          inputmode: 'numeric',
        }),
        'How long a broker session lasts, from 5 to 1440 minutes.',
      ),
      field(
        'Allowed return origins',
        h('textarea', {
          name: 'allowedReturnOrigins',
          rows: 4,
          value: s.allowedReturnOrigins.join('\n'),
          spellcheck: 'false',
        }),
        'Other https origins sign-in may send users back to, one per line (e.g. https://app.example.com).',
      ),
      box,
      h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Save')),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      busy(form.querySelector('button[type=submit]'), async () => {
        clearErrors(form);
        box.replaceChildren();
        const f = new FormData(form);
        const patch = {};
        const allow = f.get('allowOAuthPasswords') === 'on';
        if (allow !== s.allowOAuthPasswords) patch.allowOAuthPasswords = allow;
        const raw = String(f.get('sessionLifetimeMinutes') || '');
        const minutes = Number(raw);
        if (raw !== String(s.sessionLifetimeMinutes))
          patch.sessionLifetimeMinutes = raw === '' ? null : minutes;
        const origins = lines(String(f.get('allowedReturnOrigins') || ''));
        if (origins.join('\n') !== s.allowedReturnOrigins.join('\n')) patch.allowedReturnOrigins = origins;
        if (!Object.keys(patch).length) return success(box, 'Nothing to save: no setting was changed.');
        const res = await api('PATCH', '/settings', { body: patch, etag });
        if (!res.ok) return formFailure(form, box, res);
        s = res.body;
        etag = res.etag;
        success(box, 'Settings saved.');
      });
    });
    show('Global settings', h('div', { class: 'card' }, form));
  }

  // ---- Applications ------------------------------------------------------------------------------

  // A secret just issued, shown once on the re-rendered page (then forgotten).
  let issuedSecret = null;

  async function applicationsPage() {
    const r = await api('GET', '/applications');
    if (r.status === 404) {
      return show(
        'Applications',
        h(
          'div',
          { class: 'alert info', role: 'status' },
          h(
            'p',
            {},
            'Applications are coming: this broker does not offer OpenID Connect sign-in for other applications yet.',
          ),
        ),
      );
    }
    if (!r.ok) return show('Applications', problem(r));
    const items = r.body.items;
    const box = h('div', { 'aria-live': 'polite' });
    const secretBox = h('div', { 'aria-live': 'polite' });
    const showSecret = (app) => {
      if (!app.clientSecretValue) return;
      secretBox.replaceChildren(
        h(
          'div',
          { class: 'secret card' },
          h(
            'p',
            {},
            h('strong', {}, `Client secret of ${app.name}: `),
            'copy it now, it is shown only this once.',
          ),
          copyBox('client secret', app.clientSecretValue),
        ),
      );
    };
    const form = h(
      'form',
      { novalidate: true },
      field('Name', text('name', '', { maxlength: 100, autocomplete: 'off' })),
      field(
        'Type',
        select(
          'type',
          [
            ['confidential', 'Confidential (a server with a client secret)'],
            ['public', 'Public (a browser or mobile app, PKCE only)'],
          ],
          'confidential',
        ),
      ),
      field(
        'Redirect URIs',
        h('textarea', { name: 'redirectUris', rows: 3, spellcheck: 'false' }),
        'One per line; https, or http://localhost for development.',
      ),
      field(
        'Post-logout redirect URIs (optional)',
        h('textarea', { name: 'postLogoutRedirectUris', rows: 2, spellcheck: 'false' }),
        'One per line.',
      ),
      field(
        'Allowed roles (optional)',
        text('allowedRoles', '', { autocomplete: 'off' }),
        'Separated by spaces; empty lets every user in.',
      ),
      box,
      h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Register')),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      busy(form.querySelector('button[type=submit]'), async () => {
        clearErrors(form);
        const f = new FormData(form);
        const post = lines(String(f.get('postLogoutRedirectUris') || ''));
        const roles = String(f.get('allowedRoles') || '')
          .split(/[\s,]+/)
          .filter(Boolean);
        const res = await api('POST', '/applications', {
          body: {
            name: String(f.get('name') || ''),
            type: String(f.get('type')),
            redirectUris: lines(String(f.get('redirectUris') || '')),
            ...(post.length ? { postLogoutRedirectUris: post } : {}),
            ...(roles.length ? { allowedRoles: roles } : {}),
          },
        });
        if (!res.ok) return formFailure(form, box, res);
        issuedSecret = res.body;
        await applicationsPage();
      });
    });
    if (issuedSecret) {
      showSecret(issuedSecret);
      success(box, `Registered ${issuedSecret.name} (client ID ${issuedSecret.clientId}).`);
      issuedSecret = null;
    }
    show(
      'Applications',
      secretBox,
      items.length
        ? table(
            ['Name', 'Client ID', 'Type', 'Redirect URIs', 'Actions'],
            items.map((a) =>
              h(
                'tr',
                {},
                td('Name', a.name),
                td('Client ID', h('span', { class: 'mono' }, a.clientId)),
                td('Type', a.type),
                td('Redirect URIs', h('span', { class: 'mono' }, (a.redirectUris || []).join(' '))),
                td(
                  'Actions',
                  h(
                    'span',
                    { class: 'actions' },
                    a.type === 'confidential'
                      ? h(
                          'button',
                          {
                            type: 'button',
                            class: 'secondary',
                            'aria-label': `Rotate the secret of ${a.name}`,
                            onclick: (e) =>
                              busy(e.currentTarget, async () => {
                                const res = await api(
                                  'POST',
                                  `/applications/${encodeURIComponent(a.clientId)}/client-secret`,
                                  { etag: a.etag },
                                );
                                if (!res.ok) return secretBox.replaceChildren(problem(res));
                                showSecret(res.body);
                              }),
                          },
                          'Rotate secret',
                        )
                      : null,
                    confirmButton('Delete', `Delete ${a.name}? Its tokens stop working.`, async () => {
                      const res = await api('DELETE', `/applications/${encodeURIComponent(a.clientId)}`, {
                        etag: a.etag,
                      });
                      if (!res.ok) return secretBox.replaceChildren(problem(res));
                      location.reload();
                    }),
                  ),
                ),
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'No applications registered yet.'),
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'register-h' },
        h('h2', { id: 'register-h' }, 'Register an application'),
        form,
      ),
    );
  }

  // ---- Audit log ---------------------------------------------------------------------------------

  async function auditPage() {
    const params = new URLSearchParams(location.search);
    const r = await api('GET', `/audit${query(params, ['type', 'from', 'to', 'cursor'])}`);
    const filters = h(
      'form',
      {
        method: 'get',
        action: consoleUrl('audit'),
        class: 'filters card',
        role: 'search',
        'aria-label': 'Filter events',
      },
      field('Type', text('type', params.get('type') || '', { spellcheck: 'false' }), 'e.g. admin. or signin'),
      field('From', h('input', { type: 'date', name: 'from', value: params.get('from') || '' })),
      field('To', h('input', { type: 'date', name: 'to', value: params.get('to') || '' })),
      h('button', { type: 'submit' }, 'Filter'),
    );
    if (!r.ok) return show('Audit log', filters, problem(r));
    const items = r.body.items;
    show(
      'Audit log',
      filters,
      items.length
        ? table(
            ['Time', 'Type', 'Actor', 'Target', 'Outcome', 'Details'],
            items.map((e) =>
              h(
                'tr',
                {},
                td('Time', when(e.time)),
                td('Type', h('span', { class: 'mono' }, e.type)),
                td('Actor', e.actor),
                td('Target', e.target),
                td(
                  'Outcome',
                  h('span', { class: `status ${e.outcome === 'success' ? 'ok' : 'failed'}` }, e.outcome),
                ),
                td(
                  'Details',
                  [e.reason, e.changedFields?.length ? `changed: ${e.changedFields.join(', ')}` : '']
                    .filter(Boolean)
                    .join('; ') || '—',
                ),
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'No events match.'),
      pager(params, r.body.nextCursor),
    );
  }

  // ---- API tokens --------------------------------------------------------------------------------

  async function tokensPage() {
    const r = await api('GET', '/tokens');
    if (!r.ok) return show('API tokens', problem(r));
    const items = r.body.items;
    const box = h('div', { 'aria-live': 'polite' });
    const listBox = h('div', { 'aria-live': 'polite' });
    const secretBox = h('div', { 'aria-live': 'polite' });
    const form = h(
      'form',
      { novalidate: true },
      field(
        'Name',
        text('name', '', { maxlength: 100, autocomplete: 'off' }),
        'What the token is for, e.g. deployment pipeline.',
      ),
      field(
        'Expires in days (optional)',
        h('input', { type: 'number', name: 'expiresInDays', min: 1, max: 730, inputmode: 'numeric' }),
      ),
      box,
      h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Create token')),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      busy(form.querySelector('button[type=submit]'), async () => {
        clearErrors(form);
        box.replaceChildren();
        const f = new FormData(form);
        const days = String(f.get('expiresInDays') || '');
        const res = await api('POST', '/tokens', {
          body: { name: String(f.get('name') || ''), ...(days ? { expiresInDays: Number(days) } : {}) },
        });
        if (!res.ok) return formFailure(form, box, res);
        form.reset();
        secretBox.replaceChildren(
          h(
            'div',
            { class: 'secret card' },
            h(
              'p',
              {},
              h('strong', {}, `Token ${res.body.name}: `),
              'copy it now, it is shown only this once.',
            ),
            copyBox('token', res.body.token),
            h('p', {}, h('a', { href: consoleUrl('tokens') }, 'Done: show the list')),
          ),
        );
      });
    });
    show(
      'API tokens',
      secretBox,
      listBox,
      items.length
        ? table(
            ['Name', 'Expires', 'Last used', 'Actions'],
            items.map((t) =>
              h(
                'tr',
                {},
                td('Name', t.name),
                td('Expires', when(t.expiresAt)),
                td('Last used', when(t.lastUsedAt)),
                td(
                  'Actions',
                  confirmButton('Revoke', `Revoke ${t.name}?`, async () => {
                    const res = await api('DELETE', `/tokens/${encodeURIComponent(t.id)}`);
                    if (!res.ok) return listBox.replaceChildren(problem(res));
                    location.reload();
                  }),
                ),
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'No API tokens.'),
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'create-h' },
        h('h2', { id: 'create-h' }, 'Create a token'),
        form,
      ),
    );
  }

  // ---- Routing -----------------------------------------------------------------------------------

  async function route() {
    const parts = location.pathname
      .slice(BASE.length)
      .split('/')
      .filter(Boolean)
      .map((p) => decodeURIComponent(p));
    const [section = 'integrations', id] = parts;
    switch (section) {
      case 'integrations':
        return id ? integrationPage(id) : integrationsList();
      case 'users':
        return id ? userPage(id) : usersList();
      case 'settings':
        return settingsPage();
      case 'applications':
        return applicationsPage();
      case 'audit':
        return auditPage();
      case 'tokens':
        return tokensPage();
      default:
        return integrationsList();
    }
  }

  route()
    .catch(() => {
      show(
        'Something went wrong',
        h(
          'div',
          { class: 'alert', role: 'alert' },
          h('p', {}, 'This page could not be shown. Reload to try again.'),
        ),
      );
    })
    .finally(() => {
      main.dataset.ready = 'true';
    });
})();
