/** Small text conversions shared by the pages. */

/** An ISO time as `YYYY-MM-DD HH:MM UTC`; a dash when there is none. */
export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/** A list typed one per line (commas also separate). */
export function lines(value: string): string[] {
  return value
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** A list typed with spaces or commas between (roles). */
export function words(value: string): string[] {
  return value.split(/[\s,]+/).filter(Boolean);
}

/** A form field's text; empty when the field is missing or empty. */
export function textOf(form: FormData, name: string): string {
  return String(form.get(name) || '');
}

/** Only the non-empty query parameters (the API refuses empty filters). */
export function query(params: URLSearchParams, names: string[]): string {
  const q = new URLSearchParams();
  for (const n of names) {
    const v = params.get(n);
    if (v) q.set(n, v);
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}
