// Number, money, price and time formatting shared by the panels. Everything tolerates missing
// values (shown as an em dash) because the server may not have sent a field yet.

export const DASH = '—';

const isNum = (v) => typeof v === 'number' && Number.isFinite(v);

export function num(value, digits = 2) {
  if (!isNum(value)) return DASH;
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function signed(value, digits = 2) {
  if (!isNum(value)) return DASH;
  const text = num(Math.abs(value), digits);
  if (value > 0) return `+${text}`;
  if (value < 0) return `−${text}`;
  return text;
}

/** Money with its currency code, e.g. "10,000.00 USD"; a signed variant for P&L. */
export function money(value, currency, { sign = false } = {}) {
  if (!isNum(value)) return DASH;
  const text = sign ? signed(value, 2) : num(value, 2);
  return currency ? `${text} ${currency}` : text;
}

export function percent(value, digits = 2, { sign = false } = {}) {
  if (!isNum(value)) return DASH;
  return `${sign ? signed(value, digits) : num(value, digits)}%`;
}

export function tone(value) {
  if (!isNum(value) || value === 0) return '';
  return value > 0 ? 'pos' : 'neg';
}

/** Decimals for a price: what the symbol's quotes use (JPY pairs 3, metals and indices 2). */
export function priceDigits(symbol, price) {
  const s = String(symbol || '').toUpperCase();
  if (s.includes('JPY')) return 3;
  if (isNum(price)) {
    if (Math.abs(price) >= 1000) return 2;
    if (Math.abs(price) >= 50) return 3;
  }
  return 5;
}

export function price(value, symbol) {
  return isNum(value) && value !== 0 ? num(value, priceDigits(symbol, value)) : DASH;
}

/** Epoch seconds from epoch seconds, epoch milliseconds or an ISO 8601 string. */
export function toEpochSeconds(value) {
  if (isNum(value)) return value > 1e11 ? value / 1000 : value;
  if (typeof value === 'string' && value) {
    const ms = Date.parse(value);
    if (Number.isFinite(ms)) return ms / 1000;
  }
  return null;
}

const two = (n) => String(n).padStart(2, '0');

/** Local HH:MM:SS of a timestamp. */
export function clockTime(value) {
  const s = toEpochSeconds(value);
  if (s === null) return DASH;
  const d = new Date(s * 1000);
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** Local "Nov 24 14:02" of a timestamp. */
export function dateTime(value) {
  const s = toEpochSeconds(value);
  if (s === null) return DASH;
  const d = new Date(s * 1000);
  return `${d.toLocaleString('en-US', { month: 'short' })} ${d.getDate()} ${two(d.getHours())}:${two(d.getMinutes())}`;
}

export function utcClock(date = new Date()) {
  return `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}`;
}

/** "2d 4h", "3h 05m", "4m 09s", "12s". */
export function duration(seconds) {
  if (!isNum(seconds) || seconds < 0) return DASH;
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86400);
  const hr = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${hr}h`;
  if (hr > 0) return `${hr}h ${two(m)}m`;
  if (m > 0) return `${m}m ${two(s % 60)}s`;
  return `${s}s`;
}

export function lots(value) {
  return isNum(value) ? num(value, 2) : DASH;
}
