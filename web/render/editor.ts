// The scenario editor's decorations: line numbers with ▶ at the next
// operation, the highlighted line of the last operation and of an error,
// and the error text under the editor. The textarea has no line boxes of its
// own, so the highlights are absolutely placed bars that follow its scroll.
import type { SessionError } from "../session.js";

/** The line height and top padding of the textarea, in pixels (web/styles.css: --line, #source padding). */
const LINE = 17, PAD = 4;

export interface EditorElements {
  source: HTMLTextAreaElement;
  gutter: HTMLElement;
  hlCurrent: HTMLElement;
  hlError: HTMLElement;
  error: HTMLElement;
}

/** Where the run stands in the text (0: no such line). */
export interface EditorMarks {
  nextLine: number;
  currentLine: number;
  error: SessionError | null;
}

export class EditorView {
  private marks: EditorMarks = { nextLine: 0, currentLine: 0, error: null };

  constructor(private readonly els: EditorElements) {
    // the bars and the gutter move with the text
    els.source.addEventListener("scroll", () => this.redraw());
  }

  /** Draw `marks`; an error line that just appeared is scrolled into view. */
  render(marks: EditorMarks): void {
    const newError = marks.error !== null && marks.error !== this.marks.error;
    // a copy: `marks` may be the live Session, and the next render compares with what this one drew
    this.marks = { nextLine: marks.nextLine, currentLine: marks.currentLine, error: marks.error };
    const { error } = this.els;
    error.hidden = marks.error === null;
    if (marks.error) {
      error.textContent = marks.error.line > 0 ? `line ${marks.error.line}: ${marks.error.message}` : marks.error.message;
      document.body.dataset.error = error.textContent;
      if (newError && marks.error.line > 0) this.scrollToLine(marks.error.line);
    } else delete document.body.dataset.error;
    this.redraw();
  }

  /** Scroll the text so that `line` is visible (a third of the way down when it was not). */
  scrollToLine(line: number): void {
    const { source } = this.els;
    const top = PAD + (line - 1) * LINE;
    if (top < source.scrollTop || top + LINE > source.scrollTop + source.clientHeight) {
      source.scrollTop = Math.max(0, top - source.clientHeight / 3);
    }
    this.redraw();
  }

  private redraw(): void {
    const { source, gutter, hlCurrent, hlError } = this.els;
    const n = source.value.split("\n").length;
    let s = "";
    for (let i = 1; i <= n; i++) s += (i === this.marks.nextLine ? "▶" : "") + i + "\n";
    gutter.textContent = s;
    gutter.scrollTop = source.scrollTop;
    this.placeBar(hlCurrent, this.marks.currentLine);
    this.placeBar(hlError, this.marks.error?.line ?? 0);
  }

  private placeBar(bar: HTMLElement, line: number): void {
    bar.hidden = line <= 0;
    if (line > 0) bar.style.top = `${PAD + (line - 1) * LINE - this.els.source.scrollTop}px`;
  }
}
