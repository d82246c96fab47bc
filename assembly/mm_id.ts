// MM-owner tracking of large folios (CONFIG_MM_ID, Linux 6.15+, selected by
// THP so active on every 6.18 kernel whatever the mapcount scheme): a large
// folio remembers up to two mm's in two slots with their own -1-based
// mapcounts, plus _large_mapcount (every PTE and every PMD counts one) and a
// "maybe mapped shared" bit. Emulates folio_set_large_mapcount,
// folio_add_return_large_mapcount and folio_sub_return_large_mapcount of
// include/linux/rmap.h. Only maintained under CONFIG_MM_ID.
import {
  STRUCT_PAGE_SIZE, PAGE_LARGE_MAPCOUNT, PAGE_MM_ID0, PAGE_MM_ID1, PAGE_MM_ID_MAPCOUNT0,
  PAGE_MM_ID_MAPCOUNT1, FOLIO_MM_IDS_SHARED_BIT, CONFIG_MM_ID,
} from "./layout";
import { IS_ENABLED } from "./page";

const MM_ID_DUMMY: u32 = 0;
const MM_ID_MASK: u32 = 0x7fffffff;

@inline function first_tail(head: u32): u32 { return head + STRUCT_PAGE_SIZE; }
@inline function mm_id(head: u32, slot: u32): u32 {
  return load<u32>(first_tail(head) + (slot == 0 ? PAGE_MM_ID0 : PAGE_MM_ID1)) & MM_ID_MASK;
}
@inline function set_mm_id(head: u32, slot: u32, id: u32): void {
  const p = first_tail(head) + (slot == 0 ? PAGE_MM_ID0 : PAGE_MM_ID1);
  store<u32>(p, (load<u32>(p) & ~MM_ID_MASK) | id);
}
@inline function slot_count_ptr(head: u32, slot: u32): u32 {
  return first_tail(head) + (slot == 0 ? PAGE_MM_ID_MAPCOUNT0 : PAGE_MM_ID_MAPCOUNT1);
}
@inline function set_shared(head: u32): void {
  const p = first_tail(head) + PAGE_MM_ID1;
  store<u32>(p, load<u32>(p) | FOLIO_MM_IDS_SHARED_BIT);
}
@inline function clear_shared(head: u32): void {
  const p = first_tail(head) + PAGE_MM_ID1;
  store<u32>(p, load<u32>(p) & ~FOLIO_MM_IDS_SHARED_BIT);
}

/** Raw _large_mapcount (-1 based). */
@inline export function large_mapcount_raw(head: u32): i32 {
  return load<i32>(first_tail(head) + PAGE_LARGE_MAPCOUNT);
}
/** folio_test_large_maybe_mapped_shared. */
@inline export function folio_maybe_mapped_shared_bit(head: u32): bool {
  return (load<u32>(first_tail(head) + PAGE_MM_ID1) & FOLIO_MM_IDS_SHARED_BIT) != 0;
}

/** Fresh large folio (prep): no mappings, empty slots. */
export function mm_id_prep(head: u32): void {
  const t = first_tail(head);
  store<i32>(t + PAGE_LARGE_MAPCOUNT, -1);
  store<u32>(t + PAGE_MM_ID0, MM_ID_DUMMY);
  store<u32>(t + PAGE_MM_ID1, MM_ID_DUMMY);
  store<i32>(t + PAGE_MM_ID_MAPCOUNT0, -1);
  store<i32>(t + PAGE_MM_ID_MAPCOUNT1, -1);
}

/** folio_set_large_mapcount: a new folio mapped `n` times by mm `mm`. */
export function folio_set_large_mapcount(head: u32, n: i32, mm: u32): void {
  if (!IS_ENABLED(CONFIG_MM_ID)) return;
  const t = first_tail(head);
  store<i32>(t + PAGE_LARGE_MAPCOUNT, n - 1);
  store<u32>(t + PAGE_MM_ID0, mm);
  store<u32>(t + PAGE_MM_ID1, MM_ID_DUMMY);
  store<i32>(t + PAGE_MM_ID_MAPCOUNT0, n - 1);
  store<i32>(t + PAGE_MM_ID_MAPCOUNT1, -1);
}

/** folio_add_return_large_mapcount: `n` more mappings by `mm`. */
export function folio_add_large_mapcount(head: u32, n: i32, mm: u32): void {
  if (!IS_ENABLED(CONFIG_MM_ID)) return;
  const t = first_tail(head);
  // atomic: the one atomic of the kernel's update (folio_lock_large_mapcount)
  const v = atomic.add<i32>(t + PAGE_LARGE_MAPCOUNT, n) + n;
  if (mm_id(head, 0) == mm) {
    store<i32>(slot_count_ptr(head, 0), load<i32>(slot_count_ptr(head, 0)) + n);
  } else if (mm_id(head, 1) == mm) {
    store<i32>(slot_count_ptr(head, 1), load<i32>(slot_count_ptr(head, 1)) + n);
  } else if (mm_id(head, 0) == MM_ID_DUMMY) {
    set_mm_id(head, 0, mm);
    store<i32>(slot_count_ptr(head, 0), n - 1);
    if (v != n - 1) set_shared(head); // other mappings exist already
  } else if (mm_id(head, 1) == MM_ID_DUMMY) {
    set_mm_id(head, 1, mm);
    store<i32>(slot_count_ptr(head, 1), n - 1);
    set_shared(head); // slot 0 certainly has mappings too
  } else {
    set_shared(head); // a third mm: untracked
  }
}

/** folio_sub_return_large_mapcount: `n` fewer mappings by `mm`. */
export function folio_sub_large_mapcount(head: u32, n: i32, mm: u32): void {
  if (!IS_ENABLED(CONFIG_MM_ID)) return;
  const t = first_tail(head);
  const v = atomic.sub<i32>(t + PAGE_LARGE_MAPCOUNT, n) - n;
  if (mm_id(head, 0) == mm) {
    const c = load<i32>(slot_count_ptr(head, 0)) - n;
    store<i32>(slot_count_ptr(head, 0), c);
    if (c >= 0) return;
    store<i32>(slot_count_ptr(head, 0), -1);
    set_mm_id(head, 0, MM_ID_DUMMY);
  } else if (mm_id(head, 1) == mm) {
    const c = load<i32>(slot_count_ptr(head, 1)) - n;
    store<i32>(slot_count_ptr(head, 1), c);
    if (c >= 0) return;
    store<i32>(slot_count_ptr(head, 1), -1);
    set_mm_id(head, 1, MM_ID_DUMMY);
  }
  // The unmapping mm holds no slot now: if one slot owns every mapping, the
  // folio is certainly not shared any more.
  if (load<i32>(slot_count_ptr(head, 0)) == v || load<i32>(slot_count_ptr(head, 1)) == v) clear_shared(head);
}
