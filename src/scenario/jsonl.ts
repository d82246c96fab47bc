// The JSONL text of observation records written straight into byte chunks:
// a dump's page records go from the page-table walk (Machine.observeEach)
// to UTF-8 bytes with no record object or string per page. The text is
// exactly recordJson's (JSON.stringify of the record), the contract of
// docs/scenario-format.md.
import type { ObservationRecord, ObserveVisitor, RegionRecord } from "../machine.js";
import { FOLIO_ZERO, FOLIO_HZERO } from "../machine.js";
import { recordJson } from "./records.js";

/** A position in a JsonlEncoder's text (JsonlEncoder.mark). */
export interface JsonlMark { readonly buf: Buffer; readonly start: number; readonly pos: number; readonly chunks: number }

/** A chunk is handed over once this full (bytes). */
const CHUNK = 1 << 20;
/** Room for one page record past its prefix: five integers of ≤ 17 characters and the constant text. */
const PAGE_ROOM = 160;

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const FOLIO_F = ascii(`,"folio":"F`);
const AFTER_F = ascii(`","index":`);
const FOLIO_Z = ascii(`,"folio":"zero","index":`);
const FOLIO_HZ = ascii(`,"folio":"hzero","index":`);
const ORDER = ascii(`,"order":`);
const MAPCOUNT = ascii(`,"mapcount":`);

/**
 * JSONL lines as UTF-8 byte chunks. Records are appended (a dump's through
 * `observe`, any other through `record`); `take()` hands over the bytes
 * written since the last take, record-aligned chunks of ≤ 1 MiB apiece
 * (a record never straddles two chunks); `rollback(mark())` drops what was
 * written since the mark (an operation that failed half-way wrote nothing).
 *
 *   const enc = new JsonlEncoder();
 *   m.observeEach("after", enc);      // a dump's records
 *   enc.record({ type: "inspect", … }); // any other record
 *   for (const chunk of enc.take()) fs.writeSync(fd, chunk);
 */
export class JsonlEncoder implements ObserveVisitor {
  private buf: Buffer = Buffer.allocUnsafe(CHUNK);
  private pos = 0;
  /** Where the bytes not yet taken begin in `buf`. */
  private start = 0;
  /** Full chunks not yet taken. */
  private chunks: Uint8Array[] = [];
  /** The current region's page records begin with these bytes (up to `"page":`). */
  private prefix = new Uint8Array(0);
  /** Page records written so far (taken or not). */
  pageRecords = 0;

  /** Room for `n` more bytes in `buf` (the bytes so far become a chunk when there is none). */
  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    if (this.pos > this.start) this.chunks.push(this.buf.subarray(this.start, this.pos));
    this.buf = Buffer.allocUnsafe(Math.max(CHUNK, n));
    this.pos = this.start = 0;
  }

  /** The bytes written since the last take (or discard), as chunks in order. */
  take(): Uint8Array[] {
    const out = this.chunks;
    if (this.pos > this.start) out.push(this.buf.subarray(this.start, this.pos));
    this.chunks = [];
    this.start = this.pos;
    return out;
  }

  /** Where the text ends now, for `rollback`. */
  mark(): JsonlMark {
    return { buf: this.buf, start: this.start, pos: this.pos, chunks: this.chunks.length };
  }

  /** Drop what was written since `m`, a mark made after the last take. */
  rollback(m: JsonlMark): void {
    this.chunks.length = m.chunks;
    this.buf = m.buf;
    this.start = m.start;
    this.pos = m.pos;
  }

  /** One record's line (recordJson's text). */
  record(r: ObservationRecord): void {
    this.line(recordJson(r));
  }

  /** `text` and a newline, as UTF-8. */
  line(text: string): void {
    this.ensure(3 * text.length + 1);
    this.pos += this.buf.write(text, this.pos, "utf8");
    this.buf[this.pos++] = 0x0a;
  }

  // ---- ObserveVisitor: a dump's records ----
  beginRegion(dump: number, label: string | null, proc: string, region: string): void {
    this.prefix = Buffer.from(`{"type":"page","dump":${JSON.stringify(dump)},"label":${JSON.stringify(label)},` +
      `"proc":${JSON.stringify(proc)},"region":${JSON.stringify(region)},"page":`, "utf8");
  }

  page(page: number, folio: number, index: number, order: number, mapcount: number): void {
    const prefix = this.prefix;
    this.ensure(prefix.length + PAGE_ROOM);
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < prefix.length; i++) buf[pos++] = prefix[i];
    pos = this.int(page, pos);
    if (folio > 0) {
      pos = copy(buf, pos, FOLIO_F);
      pos = this.int(folio, pos);
      pos = copy(buf, pos, AFTER_F);
    } else {
      pos = copy(buf, pos, folio === FOLIO_ZERO ? FOLIO_Z : folio === FOLIO_HZERO ? FOLIO_HZ : bad(folio));
    }
    pos = this.int(index, pos);
    pos = copy(buf, pos, ORDER);
    pos = this.int(order, pos);
    pos = copy(buf, pos, MAPCOUNT);
    pos = this.int(mapcount, pos);
    buf[pos++] = 0x7d; // }
    buf[pos++] = 0x0a;
    this.pos = pos;
    this.pageRecords++;
  }

  region(rec: RegionRecord): void {
    this.line(JSON.stringify(rec));
  }

  /** The integer `x` as JSON writes it, at `pos`; returns the position after it. */
  private int(x: number, pos: number): number {
    const buf = this.buf;
    if (x >= 0 && x < 10) { buf[pos] = 0x30 + x; return pos + 1; }
    if (x === (x | 0)) {
      if (x < 0) { buf[pos++] = 0x2d; x = -x; }
      // the digits backwards into place: count them first
      let n = 1;
      for (let t = x; t >= 10; t = (t / 10) | 0) n++;
      const end = pos + n;
      for (let i = end - 1; i >= pos; i--) { const q = (x / 10) | 0; buf[i] = 0x30 + x - q * 10; x = q; }
      return end;
    }
    // beyond int32 (or not an integer): JSON.stringify's text, ASCII
    const s = JSON.stringify(x);
    for (let i = 0; i < s.length; i++) buf[pos++] = s.charCodeAt(i);
    return pos;
  }
}

function copy(buf: Uint8Array, pos: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) buf[pos++] = bytes[i];
  return pos;
}

function bad(folio: number): never {
  throw new Error(`internal error: folio number ${folio}`);
}
