/**
 * The shape of the code, as a contract: dependencies point one way (devices ← edge ← gateway;
 * simulators use devices; nothing imports tests), there is no import cycle anywhere, edge/ does no
 * file or onnxruntime work, and the few aedes internals Vigil touches are reached through one module.
 * Imports are read with TypeScript's own pre-processor (type-only imports count: a cycle of types is
 * still a cycle a reader must hold in their head).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/process.ts';

const layers = ['devices', 'edge', 'gateway', 'simulators'] as const;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** file (relative to the repo) → the repo files it imports, and the packages it imports. */
const graph = new Map<string, { files: string[]; packages: string[] }>();
for (const layer of layers) {
  for (const file of sources(join(ROOT, layer))) {
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const files: string[] = [];
    const packages: string[] = [];
    for (const { fileName } of info.importedFiles) {
      if (fileName.startsWith('.')) files.push(relative(ROOT, resolve(dirname(file), fileName)));
      else packages.push(fileName);
    }
    graph.set(relative(ROOT, file), { files, packages });
  }
}

const layerOf = (f: string) => f.split('/')[0]!;

describe('architecture', () => {
  it('reads the whole tree', () => {
    expect(graph.size).toBeGreaterThan(100);
    for (const l of layers) expect([...graph.keys()].some((f) => f.startsWith(`${l}/`))).toBe(true);
  });

  it('dependencies point one way: devices ← edge ← gateway; simulators use devices only; nothing imports tests', () => {
    const allowed: Record<string, string[]> = {
      devices: ['devices'],
      edge: ['devices', 'edge'],
      gateway: ['devices', 'edge', 'gateway'],
      simulators: ['devices', 'simulators'],
    };
    const wrong: string[] = [];
    for (const [file, { files }] of graph) {
      for (const dep of files) if (!allowed[layerOf(file)]!.includes(layerOf(dep))) wrong.push(`${file} → ${dep}`);
    }
    expect(wrong).toEqual([]);
  });

  it('has no import cycle', () => {
    // Tarjan's strongly connected components over the file graph: every component of more than one file is a cycle.
    let index = 0;
    const idx = new Map<string, number>();
    const low = new Map<string, number>();
    const stack: string[] = [];
    const on = new Set<string>();
    const cycles: string[][] = [];
    const visit = (v: string) => {
      idx.set(v, index);
      low.set(v, index++);
      stack.push(v);
      on.add(v);
      for (const w of graph.get(v)?.files ?? []) {
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
        if (scc.length > 1) cycles.push(scc.sort());
      }
    };
    for (const v of graph.keys()) if (!idx.has(v)) visit(v);
    expect(cycles).toEqual([]);
  });

  it('edge/ is pure: no file system, no onnxruntime, no network, no database (the gateway does those)', () => {
    const io = ['node:fs', 'fs', 'onnxruntime-node', 'better-sqlite3', 'node:net', 'node:http', 'mqtt', 'aedes'];
    const wrong = [...graph]
      .filter(([f]) => f.startsWith('edge/'))
      .flatMap(([f, { packages }]) => packages.filter((p) => io.includes(p)).map((p) => `${f} → ${p}`));
    expect(wrong).toEqual([]);
  });

  it('aedes internals (client.will, broker.clients) are reached only through gateway/broker/aedes-compat.ts', () => {
    const wrong: string[] = [];
    for (const file of graph.keys()) {
      if (file === 'gateway/broker/aedes-compat.ts') continue;
      const text = readFileSync(join(ROOT, file), 'utf8');
      if (/\bclients\??\.?\[|\{ ?clients\??:|\{ ?will\??:/.test(text)) wrong.push(file);
    }
    expect(wrong).toEqual([]);
  });
});
