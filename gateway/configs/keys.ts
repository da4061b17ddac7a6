/** One Ed25519 signing key per site, created on first use and kept in the embedded database. */
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { Db } from '../db.ts';

export class SiteKeys {
  readonly #db: Db;
  readonly #cache = new Map<string, { privateKey: KeyObject; publicPem: string }>();

  constructor(db: Db) {
    this.#db = db;
  }

  get(site: string): { privateKey: KeyObject; publicPem: string; keyId: string } {
    let k = this.#cache.get(site);
    if (!k) {
      const row = this.#db.prepare('SELECT public_key, private_key FROM site_keys WHERE site = ?').get(site) as { public_key: string; private_key: string } | undefined;
      if (row) k = { privateKey: createPrivateKey(row.private_key), publicPem: row.public_key };
      else {
        const pair = generateKeyPairSync('ed25519');
        const publicPem = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
        this.#db.prepare('INSERT INTO site_keys (site, public_key, private_key, created_at) VALUES (?, ?, ?, ?)')
          .run(site, publicPem, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), Date.now());
        k = { privateKey: pair.privateKey, publicPem };
      }
      this.#cache.set(site, k);
    }
    return { ...k, keyId: `site:${site}` };
  }
}
