/**
 * A transport-level packet size limit for MQTT over TCP/TLS. aedes 1.x (mqtt-packet) has
 * none: a PUBLISH is buffered whole, up to the 256 MB the protocol allows, before any hook
 * sees it. This duplex sits between the socket and the broker, reads each packet's fixed
 * header [MQTT-2.2] and closes the connection as soon as a Remaining Length above the limit
 * is announced, before the body is buffered. Bytes pass through unchanged.
 * (WebSocket listeners get the same limit from ws' maxPayload.)
 */
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';

export class FrameGuard extends Duplex {
  readonly socket: Socket;
  readonly #max: number;
  readonly #onTooLarge: (announced: number) => void;
  // Framing state: 0 = expect fixed-header byte 1, 1 = reading Remaining Length, 2 = skipping the body.
  #state = 0;
  #len = 0;
  #mult = 1;
  #lenBytes = 0;
  #skip = 0;

  constructor(socket: Socket, maxPacketBytes: number, onTooLarge: (announced: number) => void) {
    super({ allowHalfOpen: false });
    this.socket = socket;
    this.#max = maxPacketBytes;
    this.#onTooLarge = onTooLarge;
    socket.on('data', (chunk: Buffer) => {
      if (!this.#inspect(chunk)) return;
      if (!this.push(chunk)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('close', () => this.destroy());
    socket.on('error', (err) => this.destroy(err));
  }

  /** Where the client is, for logs and the audit log (aedes reads conn.remoteAddress). */
  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  #inspect(chunk: Buffer): boolean {
    let i = 0;
    while (i < chunk.length) {
      if (this.#state === 2) {
        const n = Math.min(this.#skip, chunk.length - i);
        this.#skip -= n;
        i += n;
        if (this.#skip === 0) this.#state = 0;
        continue;
      }
      const b = chunk[i++]!;
      if (this.#state === 0) {
        this.#state = 1;
        this.#len = 0;
        this.#mult = 1;
        this.#lenBytes = 0;
        continue;
      }
      // Remaining Length: up to four bytes, seven bits each, low first [MQTT-2.2.3].
      this.#len += (b & 0x7f) * this.#mult;
      this.#mult *= 128;
      this.#lenBytes++;
      if (this.#len > this.#max) {
        this.#onTooLarge(this.#len);
        this.socket.destroy();
        return false;
      }
      if ((b & 0x80) === 0) {
        this.#skip = this.#len;
        this.#state = this.#skip ? 2 : 0;
      } else if (this.#lenBytes === 4) {
        this.socket.destroy(); // malformed Remaining Length
        return false;
      }
    }
    return true;
  }

  override _read(): void {
    this.socket.resume();
  }

  #corked = false;

  /**
   * Writes of one tick go out in one syscall: a burst of PUBACKs released by one spool commit
   * would otherwise cost a write(2) each (the benchmark's top native cost, bench/README.md).
   */
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (!this.#corked) {
      this.#corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.#corked = false;
        this.socket.uncork();
      });
    }
    if (this.socket.write(chunk)) cb();
    else this.socket.once('drain', () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.socket.end(cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.socket.destroy();
    cb(err);
  }
}
