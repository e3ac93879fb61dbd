/** Exact decimal text for integer nano-USD amounts (no float on the way out either). */

/** `1234567890` → `"1.234567890"`; `digits` < 9 rounds half away from zero. */
export function formatUsd(nusd: number | bigint, digits = 9): string {
  let n = BigInt(nusd);
  const neg = n < 0n;
  if (neg) n = -n;
  if (digits < 9) {
    const unit = 10n ** BigInt(9 - digits);
    n = (n + unit / 2n) / unit;
  }
  const scale = 10n ** BigInt(digits);
  const whole = n / scale;
  const frac = digits > 0 ? "." + (n % scale).toString().padStart(digits, "0") : "";
  return `${neg ? "-" : ""}${whole}${frac}`;
}
