// The scanner's badge for a Strategy reason. Reasons are always "<PREFIX>: <detail>" with a
// fixed vocabulary (actors/strategy/signals.py, ScanStatus), so the badge is read from the prefix
// alone. A candidate is a SIGNAL, never SKIP (the seed's dashboard showed real signals as SKIP).

const BADGES = {
  'CANDIDATE BUY': { label: 'SIGNAL BUY', tone: 'buy', rank: 0, direction: 'BUY', signal: true },
  'CANDIDATE SELL': { label: 'SIGNAL SELL', tone: 'sell', rank: 0, direction: 'SELL', signal: true },
  CANDIDATE: { label: 'SIGNAL', tone: 'signal', rank: 0, signal: true },
  'RISK BLOCK': { label: 'RISK BLOCK', tone: 'risk', rank: 1 },
  NEWS: { label: 'NEWS', tone: 'news', rank: 2 },
  SPREAD: { label: 'SPREAD', tone: 'spread', rank: 3 },
  'NO SETUP': { label: 'NO SETUP', tone: 'neutral', rank: 4 },
  'LOW VOLATILITY': { label: 'LOW VOL', tone: 'lowvol', rank: 5 },
  'OFF-SESSION': { label: 'OFF-SESSION', tone: 'session', rank: 6 },
  ERROR: { label: 'ERROR', tone: 'error', rank: 7 },
};

/** {label, tone, rank, signal, direction, detail} for a reason string. Like the Strategy's
 *  status_of_reason, anything unrecognised is an ERROR (its full text is kept as the detail). */
export function badgeFor(reason) {
  const text = String(reason ?? '');
  const colon = text.indexOf(':');
  const prefix = (colon >= 0 ? text.slice(0, colon) : text).trim().toUpperCase();
  const known = BADGES[prefix];
  if (!known) return { ...BADGES.ERROR, signal: false, detail: text || 'no reason given' };
  return { signal: false, ...known, detail: colon >= 0 ? text.slice(colon + 1).trim() : '' };
}

/** Cards order: signals first, then by badge severity, then by symbol. */
export function compareScan(a, b) {
  return a.badge.rank - b.badge.rank || a.symbol.localeCompare(b.symbol);
}
