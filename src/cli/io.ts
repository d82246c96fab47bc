// The CLI's I/O: where it writes (CliIO), buffered output with backpressure
// (Sink), reading a scenario file or standard input, and the texts of its
// errors (fsReason, shorten). Nothing here knows about scenarios or kernels.
import { readFile } from "node:fs/promises";
import type { Writable } from "node:stream";

/** Where the CLI writes; process.stdout/stderr by default (tests pass their own). */
export interface CliIO {
  stdout: Writable;
  stderr: Writable;
  /** Read standard input (for FILE `-`); process.stdin by default. */
  stdin?: NodeJS.ReadableStream;
}

/** Write `msg` as one line (a newline is added unless it has one). */
export function writeLine(s: Writable, msg: string): void {
  s.write(msg.endsWith("\n") ? msg : msg + "\n");
}

/** An error message kept short: a quoted token of a huge line is cut (no regex: linear on any input). */
export function shorten(msg: string): string {
  if (msg.length <= 400) return msg;
  let out = "";
  let i = 0;
  for (;;) {
    const a = msg.indexOf("'", i);
    const b = a < 0 ? -1 : msg.indexOf("'", a + 1);
    if (b < 0) { out += msg.slice(i); break; }
    out += msg.slice(i, a + 1);
    out += b - a - 1 > 80 ? `${msg.slice(a + 1, a + 61)}…(${b - a - 1} characters)` : msg.slice(a + 1, b);
    out += "'";
    i = b + 1;
  }
  return out.length <= 2000 ? out : out.slice(0, 2000) + "…";
}

/** Why a file cannot be read, for a person. */
export function fsReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e.code) {
    case "ENOENT": return "no such file or directory";
    case "EISDIR": return "is a directory";
    case "EACCES": case "EPERM": return "permission denied";
    case "ENOTDIR": return "a component of the path is not a directory";
    default: return e.message ?? String(err);
  }
}

/** Buffered writes to a stream that respect backpressure and survive a closed pipe. */
export class Sink {
  /** Text and bytes (UTF-8) not yet handed to the stream, in order. */
  private buf: (string | Uint8Array)[] = [];
  private size = 0;
  private hasBytes = false;
  /** The reader went away (EPIPE): further output is dropped. */
  closed = false;
  private readonly onError = (e: NodeJS.ErrnoException) => {
    this.closed = true;
    if (e.code !== "EPIPE" && e.code !== "ERR_STREAM_DESTROYED") this.error = e;
  };
  error: Error | undefined;

  constructor(private readonly s: Writable) {
    s.on("error", this.onError);
  }

  line(text: string): Promise<void> | void {
    this.buf.push(text, "\n");
    this.size += text.length + 1;
    if (this.size >= 1 << 20) return this.flush();
  }

  /** UTF-8 bytes (whole lines: JSONL chunks), buffered like `line`. */
  bytes(chunk: Uint8Array): Promise<void> | void {
    if (chunk.length === 0) return;
    this.buf.push(chunk);
    this.hasBytes = true;
    this.size += chunk.length;
    if (this.size >= 1 << 20) return this.flush();
  }

  async lines(texts: Iterable<string>): Promise<void> {
    for (const t of texts) {
      const p = this.line(t);
      if (p) await p;
    }
  }

  /** Hand the buffer to the stream; wait while the stream is full. */
  async flush(): Promise<void> {
    if (this.size === 0) return;
    const buf = this.buf;
    // one write per flush: the text joined, or (with bytes) one byte chunk
    const chunk = !this.hasBytes ? buf.join("")
      : buf.length === 1 ? buf[0]
      : Buffer.concat(buf.map((c) => typeof c === "string" ? Buffer.from(c, "utf8") : c));
    this.buf = [];
    this.size = 0;
    this.hasBytes = false;
    if (this.closed || this.s.destroyed) { this.closed = true; return; }
    if (!this.s.write(chunk)) await this.drained();
  }

  /** Flush, then wait until everything written so far has been handed to the OS. */
  async end(): Promise<void> {
    await this.flush();
    if (!this.closed && !this.s.destroyed) {
      await new Promise<void>((resolve) => { this.s.write("", () => resolve()); });
    }
    this.s.off("error", this.onError);
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.s.off("drain", done); this.s.off("close", done); this.s.off("error", done);
        resolve();
      };
      this.s.on("drain", done); this.s.on("close", done); this.s.on("error", done);
    });
  }
}

async function readStdin(stdin: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stdin) chunks.push(typeof c === "string" ? Buffer.from(c) : c);
  return Buffer.concat(chunks);
}

/**
 * A scenario file's text ('-': standard input) and the name its errors use,
 * or null once the reason it cannot be read is on stderr. Invalid UTF-8
 * becomes U+FFFD, which the parser rejects with its line.
 */
export async function readScenario(file: string, io: CliIO): Promise<{ name: string; text: string } | null> {
  const name = file === "-" ? "<stdin>" : file;
  let bytes: Buffer;
  try {
    bytes = file === "-" ? await readStdin(io.stdin ?? process.stdin) : await readFile(file);
  } catch (e) {
    io.stderr.write(`${name}: cannot read: ${fsReason(e)}\n`);
    return null;
  }
  return { name, text: new TextDecoder("utf-8", { fatal: false }).decode(bytes) };
}
