import { describe, expect, it, vi } from 'vitest';
import { redisPerTest } from '../testing/redis-per-test';
import { ObjectMap } from './objectmap';

const t = redisPerTest();

describe('ObjectMap.getMany', () => {
  it('reads one deal without a pipeline, several with one (a pipeline costs CPU on the shared connection)', async () => {
    const map = new ObjectMap(t.redis, t.prefix, 'taskmap');
    await map.setIds('1', '10', new Map([['k1', '501']]));
    await map.markPending('1', '11', ['k2'], 1_000);
    const pipelines = vi.spyOn(t.redis, 'pipeline');
    try {
      const one = await map.getMany('1', ['10']);
      expect([...one.keys()]).toEqual(['10']);
      expect([...one.get('10')!]).toEqual([['k1', { state: 'mapped', id: '501', closed: false }]]);
      expect(pipelines).not.toHaveBeenCalled();
      const two = await map.getMany('1', ['10', '11', '12']);
      expect([...two.get('11')!]).toEqual([['k2', { state: 'pending', since: 1_000 }]]);
      expect(two.get('12')!.size).toBe(0);
      expect(pipelines).toHaveBeenCalledTimes(1);
    } finally {
      pipelines.mockRestore();
    }
  });
});
