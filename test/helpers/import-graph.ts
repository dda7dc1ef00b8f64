/**
 * The layering of shared/ (docs/architecture.md "Layers"): functions/ → shared/web/ → the domain
 * folders → the infrastructure folders. A module imports only from its own layer or a lower one,
 * nothing below the web layer sees `@azure/functions`, and the module graph has no cycle. Read from
 * the sources as text (static and dynamic imports, `export … from`), so a test of its own can prove
 * the rule fails when broken.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..', '..');

const LAYERS: Record<string, number> = {
  functions: 0,
  web: 1,
  signin: 2,
  oidc: 2,
  users: 2,
  integrations: 2,
  applications: 2,
  apis: 2,
  sessions: 2,
  limits: 2,
  audit: 2,
  settings: 2,
  admin: 2,
  ops: 2,
  passwords: 2,
  scim: 2,
  provisioning: 2,
  storage: 3,
  secrets: 3,
  entra: 3,
  core: 3,
};

/** The layer's name of a file below the repo root: `functions`, or the folder under `shared/`. */
export function areaOf(rel: string): string {
  const parts = rel.split('/');
  if (parts[0] === 'functions') return 'functions';
  if (parts[0] === 'shared' && parts.length > 2) return parts[1] ?? '';
  return parts.slice(0, 2).join('/');
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) out.push(...sourceFiles(rel));
    else if (/\.ts$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Every module a source imports: relative ones resolved to repo paths, packages by name. */
export function importsOf(rel: string, source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2];
    if (!spec) continue;
    out.push(
      spec.startsWith('.') ? path.posix.normalize(path.posix.join(path.posix.dirname(rel), spec)) : spec,
    );
  }
  return out;
}

export interface Violation {
  from: string;
  to: string;
  why: string;
}

/** The rule itself, over a graph of repo-relative paths (and package names). */
export function checkLayers(graph: Map<string, string[]>): Violation[] {
  const violations: Violation[] = [];
  for (const [from, targets] of graph) {
    const fromArea = areaOf(from);
    const fromLayer = LAYERS[fromArea];
    if (fromLayer === undefined) {
      violations.push({ from, to: '', why: `${fromArea} belongs to no layer (add it to the layer table)` });
      continue;
    }
    for (const to of targets) {
      if (to === '@azure/functions' || to.startsWith('@azure/functions/')) {
        if (fromLayer > LAYERS.web!) violations.push({ from, to, why: 'below the web layer' });
        continue;
      }
      if (!to.startsWith('shared/') && !to.startsWith('functions/')) continue;
      const toLayer = LAYERS[areaOf(to)];
      if (toLayer === undefined) violations.push({ from, to, why: `${areaOf(to)} belongs to no layer` });
      else if (toLayer < fromLayer) violations.push({ from, to, why: 'imports upwards' });
    }
  }
  return violations;
}

/** Every cycle's members, one strongly connected component (Tarjan) each. */
export function findCycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const stack: string[] = [];
  const on = new Set<string>();
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const cycles: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return cycles;
}

export function repoGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const rel of [...sourceFiles('shared'), ...sourceFiles('functions')]) {
    graph.set(rel, importsOf(rel, readFileSync(path.join(root, rel), 'utf8')));
  }
  return graph;
}
