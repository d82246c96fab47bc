// Small DOM helpers the views share.

/** A new element with attributes and, optionally, its text. */
export function el(tag: string, attrs: Record<string, string> = {}, text?: string): HTMLElement {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

/** A number as the kernel prints addresses and PFNs: 0x… */
export const hex = (n: number): string => "0x" + n.toString(16);
