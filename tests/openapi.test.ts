/**
 * The API contract as client generators and linters read it: the gateway's own OpenAPI document,
 * linted with Redocly's recommended rules (@redocly/openapi-core, the engine of `redocly lint`).
 */
import { createConfig, lintFromString } from '@redocly/openapi-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeAll, startTestGateway, type TestGateway } from './helpers/gateway.ts';

let t: TestGateway;
let spec: string;
beforeAll(async () => {
  t = await startTestGateway();
  spec = await (await fetch(`${t.httpUrl}/docs/json`)).text();
});
afterAll(async () => {
  await closeAll();
  await t.stop();
});

/**
 * The findings we accept, each with its reason: the public health and metrics routes take no input
 * and answer no 4xx; the licence is proprietary and has no public URL.
 */
const accepted = new Set([
  'operation-4xx-response #/paths/~1healthz/get/responses',
  'operation-4xx-response #/paths/~1readyz/get/responses',
  'operation-4xx-response #/paths/~1metrics/get/responses',
  'info-license-strict #/info/license/url',
]);

describe('OpenAPI document', () => {
  it("is clean under Redocly's recommended rules (but the accepted findings above)", async () => {
    const problems = await lintFromString({ source: spec, absoluteRef: 'openapi.json', config: await createConfig({ extends: ['recommended'] }) });
    const found = problems.map((p) => `${p.ruleId} ${p.location[0]?.pointer}`);
    expect(found.filter((f) => !accepted.has(f))).toEqual([]);
  });

  it('has an operationId each, roles on every authenticated operation, security: [] on public ones, documented errors and bodies', () => {
    const doc = JSON.parse(spec) as {
      servers: unknown[];
      paths: Record<
        string,
        Record<
          string,
          {
            operationId?: string;
            security?: unknown[];
            description?: string;
            'x-roles'?: string[];
            responses: Record<string, { description: string }>;
            requestBody?: { content: Record<string, unknown> };
          }
        >
      >;
      components: { schemas: Record<string, unknown> };
    };
    expect(doc.servers).toHaveLength(1);
    expect(Object.keys(doc.components.schemas)).toContain('Error');
    const ids = new Set<string>();
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const where = `${method.toUpperCase()} ${path}`;
        expect(op.operationId, where).toMatch(/^[a-z]+[A-Za-z]*$/);
        expect(ids.has(op.operationId!), `${where}: unique operationId`).toBe(false);
        ids.add(op.operationId!);
        for (const [code, r] of Object.entries(op.responses)) expect(r.description, `${where} ${code}`).not.toBe('Default Response');
        if (['/healthz', '/readyz', '/metrics'].includes(path)) {
          expect(op.security, where).toEqual([]);
        } else {
          expect(op['x-roles']?.length, `${where}: roles`).toBeGreaterThan(0);
          expect(op.description, where).toMatch(/Roles: /);
          expect(Object.keys(op.responses), where).toEqual(expect.arrayContaining(['401', '403']));
        }
      }
    }
    expect(Object.keys(doc.paths['/api/v1/devices/bulk']!['post']!.requestBody!.content)).toEqual(['application/json', 'text/csv']);
    expect(doc.paths['/api/v1/devices/{id}/config']!['post']!.responses).toHaveProperty('400');
  });
});
