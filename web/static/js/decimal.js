// Exact decimal helpers. Amounts travel as strings ("12.500", "3456.70"); we never do
// arithmetic on them as JS floats. For arithmetic we scale to integers (BigInt):
// quantities in kilograms (scale 3), prices and cash in fen (scale 2).

const DECIMAL_RE = /^\d+(?:\.(\d+))?$/;

/** Parse a non-negative decimal string into a scaled BigInt, or null if it is not valid
 *  (empty, negative, exponent, or more decimals than `scale`). */
export function parseScaled(text, scale) {
  if (text === null || text === undefined) return null;
  const s = String(text).trim();
  const m = DECIMAL_RE.exec(s);
  if (!m) return null;
  const frac = m[1] || "";
  if (frac.length > scale) return null;
  const [intPart] = s.split(".");
  return BigInt(intPart) * 10n ** BigInt(scale) + BigInt((frac + "0".repeat(scale)).slice(0, scale) || "0");
}

/** Format a scaled BigInt back to a string with exactly `scale` decimals. */
export function formatScaled(value, scale) {
  const neg = value < 0n;
  let v = neg ? -value : value;
  const base = 10n ** BigInt(scale);
  const intPart = v / base;
  const frac = (v % base).toString().padStart(scale, "0");
  return (neg ? "-" : "") + intPart.toString() + (scale > 0 ? "." + frac : "");
}

/** Insert thousands separators into a decimal string without touching its digits. */
export function groupDigits(text) {
  if (text === null || text === undefined || text === "") return "—";
  const s = String(text);
  const neg = s.startsWith("-");
  const body = neg ? s.slice(1) : s;
  const [i, f] = body.split(".");
  const grouped = i.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return (neg ? "-" : "") + grouped + (f !== undefined ? "." + f : "");
}

export const toKg = (tonnes) => parseScaled(tonnes, 3);
export const toFen = (cny) => parseScaled(cny, 2);
export const kgToT = (kg) => formatScaled(kg, 3);
export const fenToCny = (fen) => formatScaled(fen, 2);

/** Cash for price (fen per tonne) × quantity (kg), rounded up to the fen, as the exchange
 *  locks it for a buy. */
export function lockFen(priceFen, qtyKg) {
  const num = priceFen * qtyKg;
  return (num + 999n) / 1000n;
}

/** Compare two decimal strings numerically (same scale assumed to be ≤ 8). */
export function cmpDec(a, b) {
  const x = parseScaled(a, 8), y = parseScaled(b, 8);
  if (x === null || y === null) return 0;
  return x < y ? -1 : x > y ? 1 : 0;
}

export function isZero(text) {
  const v = parseScaled(text, 8);
  return v === 0n;
}

/** Ratio a/b as a JS number between 0 and 1, for bar widths only (never for money). */
export function ratio(a, b) {
  if (!b || b === 0n) return 0;
  return Number((a * 10000n) / b) / 10000;
}
