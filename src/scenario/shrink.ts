// Delta debugging over the lines of a scenario (Zeller's ddmin): the one
// shrinker of the project. `thpemu fuzz` (src/kernel/fuzz.ts) shrinks a
// kernel/emulator mismatch with it, `thpemu stress` (stress.ts) an invariant
// violation; each brings its own "does this candidate still fail" test.

/**
 * Delta debugging (ddmin) over the lines of a scenario: remove chunks of
 * lines while `fails` still holds (a `fails` that cannot decide, its budget
 * exhausted, answers false: the candidate is kept out).
 */
export async function ddmin(lines: string[], fails: (ls: string[]) => Promise<boolean>): Promise<string[]> {
  let cur = lines.slice();
  let n = 2;
  while (cur.length >= 2) {
    const size = Math.ceil(cur.length / n);
    let reduced = false;
    for (let i = 0; i < cur.length; i += size) {
      const cand = [...cur.slice(0, i), ...cur.slice(i + size)];
      if (cand.length && (await fails(cand))) {
        cur = cand;
        n = Math.max(n - 1, 2);
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      if (n >= cur.length) break;
      n = Math.min(n * 2, cur.length);
    }
  }
  return cur;
}
