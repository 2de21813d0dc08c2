// The four forex sessions in their own IANA time zones, DST included, computed with
// Intl.DateTimeFormat. Same rules as actors/strategy/sessions.py (the Strategy's off-session
// gate): fixed local hours on local weekdays; "pre-open" within 30 minutes of the opening.

export const SESSIONS = [
  { name: 'Sydney', zone: 'Australia/Sydney', opens: [7, 0], closes: [16, 0] },
  { name: 'Tokyo', zone: 'Asia/Tokyo', opens: [9, 0], closes: [18, 0] },
  { name: 'London', zone: 'Europe/London', opens: [8, 0], closes: [17, 0] },
  { name: 'New York', zone: 'America/New_York', opens: [8, 0], closes: [17, 0] },
];
export const PRE_OPEN_SECONDS = 30 * 60;
const WEEKDAYS = new Set([1, 2, 3, 4, 5]); // local Monday..Friday (Date's getUTCDay numbering)

const formatters = new Map();
function formatter(zone) {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric',
      hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
    formatters.set(zone, f);
  }
  return f;
}

/** The wall-clock fields of an instant (ms) in a zone. */
function wallClock(ms, zone) {
  const parts = {};
  for (const { type, value } of formatter(zone).formatToParts(new Date(ms))) parts[type] = Number(value);
  return parts;
}

/** How far the zone's wall clock is ahead of UTC at an instant, in ms. */
function zoneOffset(ms, zone) {
  const p = wallClock(ms, zone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/** The instant (ms) of a local wall time; a wall time skipped by DST resolves forward. */
function localInstant(year, month, day, hour, minute, zone) {
  const guess = Date.UTC(year, month - 1, day, hour, minute);
  const first = guess - zoneOffset(guess, zone);
  const second = guess - zoneOffset(first, zone);
  return Math.max(first, second);
}

function intervals(session, nowMs) {
  const today = wallClock(nowMs, session.zone);
  const spans = [];
  for (let offset = -2; offset <= 8; offset += 1) {
    const day = new Date(Date.UTC(today.year, today.month - 1, today.day + offset));
    if (!WEEKDAYS.has(day.getUTCDay())) continue;
    const [y, m, d] = [day.getUTCFullYear(), day.getUTCMonth() + 1, day.getUTCDate()];
    const opens = localInstant(y, m, d, ...session.opens, session.zone);
    const overnight = session.closes[0] * 60 + session.closes[1] <= session.opens[0] * 60 + session.opens[1];
    const closeDay = new Date(Date.UTC(y, m - 1, d + (overnight ? 1 : 0)));
    const closes = localInstant(closeDay.getUTCFullYear(), closeDay.getUTCMonth() + 1,
      closeDay.getUTCDate(), ...session.closes, session.zone);
    spans.push([opens, closes]);
  }
  return spans;
}

/** {name, zone, status: open|pre-open|closed, secondsToChange, localTime} at an instant. */
export function sessionState(session, nowMs = Date.now()) {
  const spans = intervals(session, nowMs);
  const local = wallClock(nowMs, session.zone);
  const localTime = `${String(local.hour).padStart(2, '0')}:${String(local.minute).padStart(2, '0')}`;
  for (const [opens, closes] of spans) {
    if (opens <= nowMs && nowMs < closes) {
      let end = closes;
      for (const [nextOpens, nextCloses] of spans) if (nextOpens === end) end = nextCloses;
      return { ...session, status: 'open', secondsToChange: Math.floor((end - nowMs) / 1000), localTime };
    }
  }
  const next = Math.min(...spans.map(([opens]) => opens).filter((opens) => opens > nowMs));
  const seconds = Math.floor((next - nowMs) / 1000);
  return { ...session, status: seconds <= PRE_OPEN_SECONDS ? 'pre-open' : 'closed', secondsToChange: seconds, localTime };
}

export function sessionStates(nowMs = Date.now()) {
  return SESSIONS.map((session) => sessionState(session, nowMs));
}
