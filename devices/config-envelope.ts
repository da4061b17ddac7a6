/**
 * Desired-config envelope: what the gateway publishes (retained) on a device's
 * `config/desired` topic, signed with the site's Ed25519 key so the device can verify
 * it came from its gateway, for it, in this version. Devices hold the site's public key.
 */
import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';

export const desiredConfigSchema = z.object({
  version: z.number().int().positive(),
  site: z.string(),
  deviceId: z.string(),
  issuedAt: z.string(),
  author: z.string(),
  config: z.record(z.string(), z.unknown()),
  signature: z.object({ alg: z.literal('Ed25519'), keyId: z.string(), sig: z.string() }),
});
export type DesiredConfig = z.infer<typeof desiredConfigSchema>;

/** JSON with object keys sorted at every level: the exact bytes that are signed. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v as object)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

const signedPart = (d: Omit<DesiredConfig, 'signature'>) =>
  Buffer.from(canonicalJson({ version: d.version, site: d.site, deviceId: d.deviceId, issuedAt: d.issuedAt, author: d.author, config: d.config }));

export function signDesired(d: Omit<DesiredConfig, 'signature'>, privateKey: KeyObject, keyId: string): DesiredConfig {
  return { ...d, signature: { alg: 'Ed25519', keyId, sig: sign(null, signedPart(d), privateKey).toString('base64') } };
}

/** What a device checks before applying: a valid signature by its site key, for itself. */
export function verifyDesired(
  raw: unknown,
  publicKeyPem: string,
  me: { site: string; deviceId: string },
): { ok: true; desired: DesiredConfig } | { ok: false; reason: string } {
  const p = desiredConfigSchema.safeParse(raw);
  if (!p.success) return { ok: false, reason: `malformed envelope: ${p.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` };
  const d = p.data;
  if (d.deviceId !== me.deviceId || d.site !== me.site) return { ok: false, reason: `config is for ${d.site}/${d.deviceId}, not this device` };
  let good = false;
  try {
    good = verify(null, signedPart(d), createPublicKey(publicKeyPem), Buffer.from(d.signature.sig, 'base64'));
  } catch {
    good = false;
  }
  return good ? { ok: true, desired: d } : { ok: false, reason: 'signature does not verify with the site key' };
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!patch || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}
