/**
 * A real central broker for the uplink tests and benchmark: Debian's Mosquitto with persistence
 * on, a password file (mosquitto_passwd) and the ACL shipped in deploy/central/acl, on a free port.
 * It can be stopped and started again on the same persistence (an uplink cut).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopChild, waitUp } from './local-server.ts';
import { freePort } from './victoria.ts';

export const CENTRAL_ACL = fileURLToPath(new URL('../deploy/central/acl', import.meta.url));

export class CentralBroker {
  readonly dir = mkdtempSync(join(tmpdir(), 'vigil-central-'));
  port = 0;
  #proc?: ChildProcess;
  #log = '';

  #tls = false;

  get url(): string {
    return `${this.#tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${this.port}`;
  }

  get log(): string {
    return this.#log;
  }

  /**
   * `users`: user name → password (boxes by gatewayId, and `centre-ops`). With `tls` (a PKI from
   * scripts/certs.sh: ca.crt, server.crt, server.key) the listener is TLS only and every client needs a
   * certificate of that CA, whose CN becomes its user name for the ACL (use_identity_as_username).
   * `opts.acl`: another ACL file, or null for none (a site's own broker in the adapter tests).
   */
  static async start(users: Record<string, string>, tls?: { dir: string }, opts: { acl?: string | null } = {}): Promise<CentralBroker> {
    const b = new CentralBroker();
    b.port = await freePort();
    const passwd = join(b.dir, 'passwd');
    writeFileSync(passwd, '', { mode: 0o600 });
    for (const [u, p] of Object.entries(users)) execFileSync('mosquitto_passwd', ['-b', passwd, u, p]);
    const auth = tls
      ? [
          `cafile ${tls.dir}/ca.crt`,
          `certfile ${tls.dir}/server.crt`,
          `keyfile ${tls.dir}/server.key`,
          'require_certificate true',
          'use_identity_as_username true',
        ]
      : [`password_file ${passwd}`];
    writeFileSync(
      join(b.dir, 'mosquitto.conf'),
      [
        // Started as root, Mosquitto drops to its own user, which cannot read this private temporary directory.
        ...(process.getuid?.() === 0 ? ['user root'] : []),
        'persistence true',
        `persistence_location ${b.dir}/`,
        'autosave_interval 1',
        'max_queued_messages 100000',
        `listener ${b.port} 127.0.0.1`,
        'allow_anonymous false',
        ...auth,
        ...(opts.acl === null ? [] : [`acl_file ${opts.acl ?? CENTRAL_ACL}`]),
        'log_dest stderr',
        'log_type error',
        'log_type warning',
        '',
      ].join('\n'),
    );
    b.#tls = !!tls;
    await b.restart();
    return b;
  }

  async restart(): Promise<void> {
    this.#proc = spawn('/usr/sbin/mosquitto', ['-c', join(this.dir, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#proc.stderr!.on('data', (d: Buffer) => (this.#log += d));
    const proc = this.#proc;
    const listening = () =>
      new Promise<boolean>((r) => {
        const s = connect(this.port, '127.0.0.1', () => (s.end(), r(true)));
        s.on('error', () => r(false));
      });
    await waitUp(listening, 'mosquitto', proc, 10_000).catch((err: Error) => {
      throw new Error(`${err.message}: ${this.#log}`);
    });
  }

  /** SIGTERM: Mosquitto saves its persistence file on the way out. */
  async stop(): Promise<void> {
    await stopChild(this.#proc);
  }
}
