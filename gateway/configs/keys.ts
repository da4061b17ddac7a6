/**
 * One Ed25519 signing key per site, created on first use and kept in the embedded database,
 * sealed under the master key (security/at-rest.ts); only the public key ever leaves the box.
 * Keys written in clear by an earlier version are sealed when the gateway starts.
 */
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { Db } from '../db.ts';
import { isSealed, seal, unseal } from '../security/at-rest.ts';

const aad = (site: string) => `site_keys:${site}`;

export class SiteKeys {
  readonly #db: Db;
  readonly #master: Buffer;
  readonly #now: () => number;
  readonly #cache = new Map<string, { privateKey: KeyObject; publicPem: string }>();

  constructor(db: Db, master: Buffer, now: () => number = Date.now) {
    this.#db = db;
    this.#master = master;
    this.#now = now;
    this.#sealLegacy();
  }

  #sealLegacy(): void {
    const rows = this.#db.prepare('SELECT site, private_key FROM site_keys').all() as { site: string; private_key: string }[];
    const update = this.#db.prepare('UPDATE site_keys SET private_key = ? WHERE site = ?');
    this.#db.transaction(() => {
      for (const r of rows) if (!isSealed(r.private_key)) update.run(seal(this.#master, r.private_key, aad(r.site)), r.site);
    })();
  }

  get(site: string): { privateKey: KeyObject; publicPem: string; keyId: string } {
    let k = this.#cache.get(site);
    if (!k) {
      const row = this.#db.prepare('SELECT public_key, private_key FROM site_keys WHERE site = ?').get(site) as
        { public_key: string; private_key: string } | undefined;
      if (row)
        k = {
          privateKey: createPrivateKey(isSealed(row.private_key) ? unseal(this.#master, row.private_key, aad(site)) : row.private_key),
          publicPem: row.public_key,
        };
      else {
        const pair = generateKeyPairSync('ed25519');
        const publicPem = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
        const privatePem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
        this.#db
          .prepare('INSERT INTO site_keys (site, public_key, private_key, created_at) VALUES (?, ?, ?, ?)')
          .run(site, publicPem, seal(this.#master, privatePem, aad(site)), this.#now());
        k = { privateKey: pair.privateKey, publicPem };
      }
      this.#cache.set(site, k);
    }
    return { ...k, keyId: `site:${site}` };
  }
}
