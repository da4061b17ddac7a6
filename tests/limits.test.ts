/** The abuse-limit building blocks on an injected clock: throttle growth and expiry, fair sharing and shedding, buckets, connection caps. */
import { describe, expect, it } from 'vitest';
import { ConnectionLimiter, FairQueue, LoginThrottle, ShedError, TokenBuckets } from '../gateway/security/limits.ts';

describe('LoginThrottle', () => {
  const policy = { freeFailures: 3, windowMs: 60_000, baseDelayMs: 1000, maxDelayMs: 8000, floodFailures: 20 };

  it('answers the first failures at once, then holds refusals back longer and longer, up to the cap', () => {
    let now = 0;
    const t = new LoginThrottle(policy, () => now);
    const delays = Array.from({ length: 8 }, () => t.fail('hub1-door-01', '10.0.0.9').delayMs);
    expect(delays).toEqual([0, 0, 0, 1000, 2000, 4000, 8000, 8000]);
    now += 60_000; // the window has passed
    expect(t.fail('hub1-door-01', '10.0.0.9').delayMs).toBe(0);
  });

  it('is per (credential, source): another address, or another credential, starts clean; a success clears the pair', () => {
    const t = new LoginThrottle(policy, () => 0);
    for (let i = 0; i < 6; i++) t.fail('hub1-door-01', '10.0.0.9');
    expect(t.fail('hub1-door-01', '10.0.0.10').delayMs).toBe(0);
    expect(t.fail('hub1-door-02', '10.0.0.9').delayMs).toBe(0);
    t.succeed('hub1-door-01', '10.0.0.9');
    expect(t.fail('hub1-door-01', '10.0.0.9').delayMs).toBe(0);
  });

  it('a source past the flood budget gets the longest delay on every failure, whatever the credential', () => {
    const t = new LoginThrottle(policy, () => 0);
    for (let i = 0; i < 20; i++) t.fail(`guess-${i}`, '10.0.0.9');
    expect(t.fail('fresh-name', '10.0.0.9')).toMatchObject({ delayMs: 8000, flooding: true });
    expect(t.fail('fresh-name', '10.0.0.10')).toMatchObject({ delayMs: 0, flooding: false });
  });
});

describe('FairQueue', () => {
  it('runs one check per source at a time, queues a bounded number, and sheds the rest at once', async () => {
    const q = new FairQueue({ perSourceInFlight: 1, perSourceQueued: 2, maxQueued: 100 });
    const gates: (() => void)[] = [];
    let running = 0;
    let most = 0;
    const task = () =>
      q.run('a', async () => {
        most = Math.max(most, ++running);
        await new Promise<void>((r) => gates.push(r));
        running--;
        return 'done';
      });
    const tasks = [task(), task(), task()];
    await expect(task()).rejects.toBeInstanceOf(ShedError);
    expect(q.shed).toBe(1);
    expect(q.queued).toBe(2);
    // Another source is not behind source a's queue.
    await expect(q.run('b', async () => 'b first')).resolves.toBe('b first');
    for (let done = 0; done < 3;) {
      await new Promise((r) => setImmediate(r));
      const g = gates.shift();
      if (g) {
        g();
        done++;
      }
    }
    await expect(Promise.all(tasks)).resolves.toEqual(['done', 'done', 'done']);
    expect(most).toBe(1);
  });

  it('sheds when the overall queue is full', async () => {
    const q = new FairQueue({ perSourceInFlight: 1, perSourceQueued: 10, maxQueued: 1 });
    const never = () => new Promise<void>(() => {});
    void q.run('a', never);
    void q.run('a', never);
    await expect(q.run('b', async () => 1)).resolves.toBe(1);
    void q.run('c', never);
    await expect(q.run('c', async () => 1)).rejects.toBeInstanceOf(ShedError);
  });
});

describe('TokenBuckets and ConnectionLimiter', () => {
  it('a bucket refills at its rate on the injected clock', () => {
    let now = 0;
    const b = new TokenBuckets(2, 3, () => now);
    expect([b.take('d'), b.take('d'), b.take('d'), b.take('d')]).toEqual([true, true, true, false]);
    now += 500;
    expect([b.take('d'), b.take('d')]).toEqual([true, false]);
  });

  it('a clock stepped back (NTP) is no time passing, not a debt: the device is not silenced for the length of the step', () => {
    let now = 10 * 3_600_000;
    const b = new TokenBuckets(2, 3, () => now);
    expect(b.take('d')).toBe(true);
    now -= 3_600_000; // an hour back
    expect([b.take('d'), b.take('d'), b.take('d')]).toEqual([true, true, false]); // what was left of the burst
    now += 500;
    expect(b.take('d')).toBe(true); // and it refills from the new time
  });

  it('caps connections overall and per address, and releases once', () => {
    const l = new ConnectionLimiter(3, 2);
    const a1 = l.admit('10.0.0.1');
    l.admit('10.0.0.1');
    expect(l.admit('10.0.0.1')).toEqual({ refused: 'max_connections_per_address' });
    l.admit('10.0.0.2');
    expect(l.admit('10.0.0.3')).toEqual({ refused: 'max_connections' });
    if ('release' in a1) {
      a1.release();
      a1.release();
    }
    expect(l.open).toBe(2);
    expect('release' in l.admit('10.0.0.1')).toBe(true);
  });
});
