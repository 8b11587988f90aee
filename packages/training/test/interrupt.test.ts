import { describe, expect, it } from 'vitest';
import { interruptSignal } from '../src/node.js';

describe('interruptSignal', () => {
  it('aborts on the first SIGINT, exits on the second, and removes its listener', () => {
    const baseline = process.listenerCount('SIGINT');
    const logs: string[] = [];
    const exits: number[] = [];
    const signal = interruptSignal({ log: (l) => void logs.push(l), exit: (c) => void exits.push(c) });
    expect(process.listenerCount('SIGINT')).toBe(baseline + 1);
    expect(signal.aborted).toBe(false);
    process.emit('SIGINT');
    expect(signal.aborted).toBe(true);
    expect(logs[0]).toMatch(/stopping after this step and saving a checkpoint \(Ctrl-C again to quit now\)/);
    expect(exits).toEqual([]);
    process.emit('SIGINT');
    expect(exits).toEqual([130]);
    expect(process.listenerCount('SIGINT')).toBe(baseline);
  });

  it('dispose() removes the listener without aborting', () => {
    const baseline = process.listenerCount('SIGINT');
    const signal = interruptSignal({ message: false });
    expect(process.listenerCount('SIGINT')).toBe(baseline + 1);
    signal.dispose();
    expect(process.listenerCount('SIGINT')).toBe(baseline);
    expect(signal.aborted).toBe(false);
  });
});
