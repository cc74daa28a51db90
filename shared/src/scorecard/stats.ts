/**
 * Order statistics by selection instead of sorting: sorting a million Float64 values costs ~170 ms in V8, a
 * selection a few ms, and the scorecard needs only two ranks per group.
 */

function swap(a: Float64Array, i: number, j: number): void {
  const t = a[i]!;
  a[i] = a[j]!;
  a[j] = t;
}

/**
 * Floyd-Rivest selection (as in d3-array): afterwards a[k] is the k-th smallest of a[left..right], everything
 * before it is <= and everything after it is >=. Reorders `a` in place.
 */
export function quickselect(a: Float64Array, k: number, left = 0, right = a.length - 1): void {
  while (right > left) {
    if (right - left > 600) {
      // Recurse on a sample around k first so the pivot lands close to the k-th value.
      const n = right - left + 1;
      const m = k - left + 1;
      const z = Math.log(n);
      const s = 0.5 * Math.exp((2 * z) / 3);
      const sd = 0.5 * Math.sqrt((z * s * (n - s)) / n) * (m - n / 2 < 0 ? -1 : 1);
      quickselect(
        a,
        k,
        Math.max(left, Math.floor(k - (m * s) / n + sd)),
        Math.min(right, Math.floor(k + ((n - m) * s) / n + sd)),
      );
    }
    const t = a[k]!;
    let i = left;
    let j = right;
    swap(a, left, k);
    if (a[right]! > t) swap(a, left, right);
    while (i < j) {
      swap(a, i, j);
      i++;
      j--;
      while (a[i]! < t) i++;
      while (a[j]! > t) j--;
    }
    if (a[left] === t) swap(a, left, j);
    else {
      j++;
      swap(a, j, right);
    }
    if (j <= k) left = j + 1;
    if (k <= j) right = j - 1;
  }
}

/**
 * Median and 90th percentile of `values` (reordered in place).
 * Median: the mean of the two middle values for an even count, so a two-visit stage reports neither extreme.
 * P90: nearest rank, the smallest value with at least 90 % of the values at or below it (an observed value).
 */
export function medianAndP90(values: Float64Array): { median: number | null; p90: number | null } {
  const n = values.length;
  if (n === 0) return { median: null, p90: null };
  const mid = n >> 1;
  quickselect(values, mid);
  let median = values[mid]!;
  if (n % 2 === 0) {
    // Selection left the lower half in [0, mid): its maximum is the other middle value.
    let lower = values[0]!;
    for (let i = 1; i < mid; i++) if (values[i]! > lower) lower = values[i]!;
    median = (lower + median) / 2;
  }
  const k90 = Math.max(0, Math.ceil(0.9 * n) - 1);
  // Everything after `mid` is already >= the median, so the 90th rank is selected within that part alone.
  if (k90 > mid) quickselect(values, k90, mid + 1, n - 1);
  return { median, p90: values[k90]! };
}
