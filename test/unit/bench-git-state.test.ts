import { describe, expect, it } from 'vitest';
import { changedFiles } from '../bench/common';

// latest.json records whether its figures are one commit's; a wrong file list there misleads the reader.
describe('bench results: changed files', () => {
  it('keeps the first letter of a path whose index column is blank', () => {
    expect(changedFiles(' M test/bench/pace.ts\nM  shared/src/a.ts\n', 'x.json')).toEqual([
      'test/bench/pace.ts',
      'shared/src/a.ts',
    ]);
  });

  it('does not count the results file the run itself rewrites', () => {
    expect(changedFiles(' M test/bench/results/latest.json\n', 'test/bench/results/latest.json')).toEqual([]);
  });

  it('reads a clean tree as no files', () => {
    expect(changedFiles('', 'x.json')).toEqual([]);
  });
});
