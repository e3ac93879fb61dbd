/** One CSV cell (RFC 4180): quoted only when it holds a quote, comma, line break or edge space; null and undefined are empty. */
export function csvCell(v: unknown): string {
  const s = String(v ?? "");
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
