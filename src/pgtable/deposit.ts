// The page tables deposited under huge PMDs (mm/pgtable-generic.c
// pgtable_trans_huge_deposit / pgtable_trans_huge_withdraw: the kernel hangs
// a preallocated PTE table off the PMD table's struct page for every huge
// PMD, so a later split never fails for want of memory). Keyed by the huge
// PMD's slot, like the kernel's per-PMD-table list: a two-level sparse array
// over the slot space — one Uint32Array per 1024 slots (512 entries, the
// span of a PMD table), created on the first deposit in it and dropped with
// its last withdrawal — so the fork and exit of a run of 512 huge PMDs do
// typed-array stores, not hash-map inserts and deletes.

/** Slots per chunk (a table's 512 entries, two u32 words each). */
const CHUNK_SHIFT = 10;

/** Huge PMD slot -> deposited table PFN; the Map operations the callers use, iterated in ascending slot order. */
export class Deposits {
  /** chunk number (slot >>> 10) -> per even slot of the chunk, the table PFN + 1 (0: none); word 512: how many are live */
  private chunks = new Map<number, Uint32Array>();
  private n = 0;
  /** the last chunk looked up (a run of huge PMDs stays in one) */
  private lastKey = -1;
  private lastArr: Uint32Array | undefined;
  /** the last chunk that emptied, all zero, reused by the next new chunk (a split then a new THP in the same PMD table, over and over) */
  private spare: Uint32Array | undefined;

  constructor(entries?: Iterable<readonly [number, number]>) {
    if (entries) for (const [slot, table] of entries) this.set(slot, table);
  }

  private chunk(key: number): Uint32Array | undefined {
    if (key === this.lastKey) return this.lastArr;
    const a = this.chunks.get(key);
    if (a !== undefined) { this.lastKey = key; this.lastArr = a; }
    return a;
  }

  /** How many huge PMDs have a deposit. */
  get size(): number { return this.n; }

  /** The table deposited under the huge PMD at `slot`. */
  get(slot: number): number | undefined {
    const a = this.chunk(slot >>> CHUNK_SHIFT);
    if (a === undefined) return undefined;
    const v = a[(slot & 1023) >>> 1];
    return v === 0 ? undefined : v - 1;
  }

  has(slot: number): boolean { return this.get(slot) !== undefined; }

  /** pgtable_trans_huge_deposit: `table` goes under the huge PMD at `slot` (replacing one already there). */
  set(slot: number, table: number): this {
    const key = slot >>> CHUNK_SHIFT;
    let a = this.chunk(key);
    if (a === undefined) {
      a = this.spare ?? new Uint32Array(513);
      this.spare = undefined;
      this.chunks.set(key, a);
      this.lastKey = key;
      this.lastArr = a;
    }
    const i = (slot & 1023) >>> 1;
    if (a[i] === 0) { this.n++; a[512]++; }
    a[i] = table + 1;
    return this;
  }

  /** pgtable_trans_huge_withdraw: the deposit at `slot` is gone; false when there was none. */
  delete(slot: number): boolean {
    const key = slot >>> CHUNK_SHIFT;
    const a = this.chunk(key);
    if (a === undefined) return false;
    const i = (slot & 1023) >>> 1;
    if (a[i] === 0) return false;
    a[i] = 0;
    this.n--;
    if (--a[512] === 0) {
      this.chunks.delete(key);
      this.spare = a;
      if (this.lastKey === key) { this.lastKey = -1; this.lastArr = undefined; }
    }
    return true;
  }

  /** [slot, table] pairs, ascending by slot. */
  *[Symbol.iterator](): IterableIterator<[number, number]> {
    for (const key of [...this.chunks.keys()].sort((x, y) => x - y)) {
      const a = this.chunks.get(key)!;
      for (let i = 0; i < 512; i++) if (a[i] !== 0) yield [(key << CHUNK_SHIFT) + (i << 1), a[i] - 1];
    }
  }
}
