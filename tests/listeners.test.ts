/** The one listener mechanism (edge/listeners.ts): every listener hears an event even when one throws; unsubscribe works. */
import { describe, expect, it } from 'vitest';
import { Listeners } from '../edge/listeners.ts';

describe('Listeners', () => {
  it('calls every listener in order; a throwing one does not silence the others, and its error reaches the emitter', () => {
    const l = new Listeners<[n: number]>();
    const heard: string[] = [];
    l.on((n) => heard.push(`a${n}`));
    l.on(() => {
      throw new Error('broken listener');
    });
    l.on((n) => heard.push(`c${n}`));
    expect(() => l.emit(1)).toThrow('broken listener');
    expect(heard).toEqual(['a1', 'c1']);
  });

  it('unsubscribes', () => {
    const l = new Listeners<[]>();
    let n = 0;
    const off = l.on(() => n++);
    l.emit();
    off();
    l.emit();
    expect(n).toBe(1);
    expect(l.size).toBe(0);
  });
});
