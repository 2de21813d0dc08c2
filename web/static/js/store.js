// The page's state, built only from what arrives on /ws: the STATE_SNAPSHOT a connection starts
// with, then numbered events. Events are applied once each, in seq order: anything at or below
// the last applied seq is dropped, so a resumed connection (?since=) can never duplicate a row.
// State-like fields (account, positions, scan, mode, broker) remember the seq they were set at,
// so an older event can never overwrite a newer snapshot. Every list is capped. Live quotes
// (QUOTE, not numbered unless the daemon journals them) are kept apart: the latest per symbol,
// by the tick's time, so an older quote never replaces a newer one.
//
// Panels read the store; the store records which parts changed (`dirty`) and the render loop
// redraws only those, once per animation frame.

export const LOG_CAP = 200;
const EXECUTIONS_CAP = 50;
const CLOSED_CAP = 100;
const EQUITY_CAP = 5000;
const BEHIND_RETRIES_BEFORE_RESET = 10;

/** Types shown in their own panels rather than in the event log (as the seed did). */
export const STATE_TYPES = new Set(['STATE_SNAPSHOT', 'ACCOUNT_UPDATE', 'POSITION_UPDATE', 'QUOTE']);

export class Store {
  constructor() {
    this.dirty = new Set();
    this.reset();
  }

  reset() {
    this.lastSeq = 0;
    this.snapshotSeq = 0;
    this.account = {};
    this.positions = [];
    this.scan = { symbols: {}, timestamp: null, count: 0, candidates: 0 };
    this.scans = new Map(); // strategy -> its latest scan (each strategy sends its own)
    this.strategies = new Set(); // every strategy seen, for the strategy filter
    this.scanStartedAt = null;
    this.risk = {};
    this.broker = {};
    this.setAt = { account: 0, positions: 0, scan: 0, risk: 0, broker: 0 };
    this.log = []; // ascending seq
    this.logTypes = new Set();
    this.executions = []; // newest first
    this.closed = []; // POSITION_CLOSED, newest first
    this.reviews = []; // CRITIC_REVIEW, newest first
    this.research = new Map(); // symbol -> latest RESEARCH_RESULT
    this.restarts = []; // ACTOR_RESTARTED, ascending
    this.equity = []; // {time: epoch s, equity}, ascending
    this.lastControl = null;
    this.quotes = new Map(); // symbol -> latest quote, with `move` (up | down) and `updates`
    this.dropped = 0;
    this.received = 0;
    this.mark('all');
  }

  noteScan(scan) {
    this.scans.set(scan.strategy, scan);
    this.noteStrategy(scan.strategy);
  }

  noteStrategy(name) {
    if (name && !this.strategies.has(name)) {
      this.strategies.add(name);
      this.mark('strategies');
    }
  }

  mark(...parts) {
    for (const part of parts) this.dirty.add(part);
  }

  /** The parts changed since the last call. */
  takeDirty() {
    const parts = this.dirty;
    this.dirty = new Set();
    return parts;
  }

  /** Apply one frame's events. Returns false when the frame starts with a snapshot that is
   *  behind what the page already has (the caller reconnects and tries again). */
  apply(events, { behindRetries = 0 } = {}) {
    for (const event of events) {
      if (!event || typeof event !== 'object') continue;
      if (event.type === 'STATE_SNAPSHOT') {
        if (!this.applySnapshot(event.data || {}, behindRetries)) return false;
      } else if (event.type === 'QUOTE' && event.seq === undefined) {
        this.applyQuote(event); // live only: no seq to order it by
      } else {
        this.applyEvent(event);
      }
    }
    return true;
  }

  applySnapshot(data, behindRetries) {
    const last = Number(data.last_seq) || 0;
    const resuming = this.lastSeq > 0;
    if (resuming && last < this.lastSeq) {
      if (behindRetries < BEHIND_RETRIES_BEFORE_RESET) return false;
      this.reset(); // a different daemon (new data directory): start over from its snapshot
    }
    this.snapshotSeq = last;
    if (this.lastSeq > 0) {
      // Resuming: the replay that follows carries every event we missed, in order. Only the
      // state fields are taken from the snapshot (they are as of `last`).
      this.takeStateFields(data, last);
      return true;
    }
    this.takeStateFields(data, last);
    const events = (Array.isArray(data.events) ? data.events : [])
      .filter((e) => e && Number.isFinite(e.seq))
      .sort((a, b) => a.seq - b.seq);
    for (const event of events) this.applyEvent(event);
    const trades = Array.isArray(data.recent_trades) ? data.recent_trades : [];
    const known = new Set(this.executions.map((t) => t.seq));
    for (const trade of trades) {
      if (!known.has(trade.seq)) this.executions.push({ type: 'TRADE_EXECUTION', ...trade });
    }
    this.executions.sort((a, b) => (b.seq ?? 0) - (a.seq ?? 0));
    this.executions.length = Math.min(this.executions.length, EXECUTIONS_CAP);
    this.lastSeq = Math.max(this.lastSeq, last);
    this.mark('all');
    return true;
  }

  takeStateFields(data, seq) {
    const take = (field, value) => {
      if (value && typeof value === 'object' && Object.keys(value).length && seq >= this.setAt[field]) {
        this.setAt[field] = seq;
        return true;
      }
      return false;
    };
    if (take('account', data.account)) {
      this.account = { ...data.account };
      this.noteEquity(this.account.equity, Date.now() / 1000);
      this.mark('account', 'equity');
    }
    if (Array.isArray(data.positions) && seq >= this.setAt.positions) {
      this.setAt.positions = seq;
      this.positions = data.positions.slice();
      this.mark('positions', 'chart', 'scanner');
    }
    if (take('scan', data.scan_summary)) {
      // Every strategy's latest scan (older snapshots hold only the newest one).
      for (const summary of Array.isArray(data.scan_summaries) ? data.scan_summaries : []) {
        if (summary && typeof summary === 'object') this.noteScan(normaliseScan(summary));
      }
      this.scan = normaliseScan(data.scan_summary);
      this.noteScan(this.scan);
      this.mark('scanner', 'symbols');
    }
    if (take('risk', data.risk)) {
      this.risk = { ...data.risk };
      this.mark('header');
    }
    if (take('broker', data.broker)) {
      this.broker = { ...data.broker };
      this.mark('header');
    }
    if (data.quotes && typeof data.quotes === 'object') {
      for (const quote of Object.values(data.quotes)) this.applyQuote(quote);
    }
  }

  /** Keep a quote unless the one held for its symbol is newer. */
  applyQuote(quote) {
    if (!quote || typeof quote.symbol !== 'string' || !quote.symbol) return;
    const bid = Number(quote.bid);
    const ask = Number(quote.ask);
    const time = Number(quote.time);
    if (!Number.isFinite(bid) || !Number.isFinite(ask) || !Number.isFinite(time)) return;
    const held = this.quotes.get(quote.symbol);
    if (held && held.time > time) return;
    if (held && held.time === time && held.bid === bid && held.ask === ask) return;
    let move = held?.move || '';
    if (held && bid > held.bid) move = 'up';
    else if (held && bid < held.bid) move = 'down';
    this.quotes.set(quote.symbol, {
      symbol: quote.symbol, bid, ask, spread: Number(quote.spread), time, move,
      updates: (held?.updates || 0) + 1,
    });
    this.mark('quotes');
  }

  applyEvent(event) {
    const seq = Number(event.seq);
    if (!Number.isFinite(seq) || seq <= this.lastSeq) {
      this.dropped += 1;
      return;
    }
    this.lastSeq = seq;
    this.received += 1;
    this.mark('header');
    const handler = HANDLERS[event.type];
    if (handler) handler(this, event, seq);
    if (!STATE_TYPES.has(event.type)) {
      this.log.push(event);
      if (this.log.length > LOG_CAP * 1.5) this.log.splice(0, this.log.length - LOG_CAP);
      if (!this.logTypes.has(event.type)) {
        this.logTypes.add(event.type);
        this.mark('eventTypes');
      }
      this.mark('events');
    }
  }

  /** The latest LOG_CAP events, newest first. */
  latestEvents() {
    return this.log.slice(-LOG_CAP).reverse();
  }

  noteEquity(equity, time) {
    if (typeof equity !== 'number' || !Number.isFinite(equity) || !Number.isFinite(time)) return;
    const point = { time, equity };
    const last = this.equity[this.equity.length - 1];
    if (last && time < last.time) return;
    this.equity.push(point);
    if (this.equity.length > EQUITY_CAP) this.equity.splice(0, this.equity.length - EQUITY_CAP);
    this.mark('equity', 'account');
  }

  /** Merge equity history from /api/equity under the live points. */
  mergeEquityHistory(points) {
    const live = this.equity;
    const firstLive = live.length ? live[0].time : Infinity;
    const older = points.filter((p) => p.time < firstLive);
    this.equity = older.concat(live).slice(-EQUITY_CAP);
    this.mark('equity', 'account');
  }

  guard(field, seq) {
    if (seq < this.setAt[field]) return false;
    this.setAt[field] = seq;
    return true;
  }
}

function normaliseScan(summary) {
  return {
    symbols: summary.symbols && typeof summary.symbols === 'object' ? { ...summary.symbols } : {},
    timestamp: summary.timestamp ?? null,
    count: summary.count ?? Object.keys(summary.symbols || {}).length,
    candidates: summary.candidates ?? 0,
    strategy: summary.strategy ?? '',
  };
}

const epoch = (iso) => {
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms / 1000 : Date.now() / 1000;
};

const HANDLERS = {
  ACCOUNT_UPDATE(store, event, seq) {
    if (!store.guard('account', seq)) return;
    Object.assign(store.account, event.account || {});
    store.noteEquity(store.account.equity, epoch(event.timestamp));
    store.mark('account');
  },
  POSITION_UPDATE(store, event, seq) {
    if (!store.guard('positions', seq)) return;
    store.positions = Array.isArray(event.positions) ? event.positions.slice() : [];
    store.mark('positions', 'chart', 'scanner', 'symbols');
  },
  SCAN_START(store, event) {
    store.scanStartedAt = event.timestamp;
    store.mark('scanner');
  },
  SCAN_SUMMARY(store, event, seq) {
    if (!store.guard('scan', seq)) return;
    store.scan = normaliseScan(event);
    store.noteScan(store.scan);
    store.mark('scanner', 'symbols', 'chartRefresh');
  },
  RESEARCH_RESULT(store, event) {
    store.research.set(event.symbol, event);
    store.mark('scanner');
  },
  TRADE_EXECUTION(store, event) {
    store.noteStrategy(event.strategy);
    store.executions.unshift(event);
    store.executions.length = Math.min(store.executions.length, EXECUTIONS_CAP);
    store.mark('journal', 'chart', 'symbols', 'chartRefresh', 'journalRefresh');
  },
  POSITION_CLOSED(store, event) {
    store.closed.unshift(event);
    store.closed.length = Math.min(store.closed.length, CLOSED_CAP);
    store.mark('journal', 'chart', 'journalRefresh', 'chartRefresh');
  },
  CRITIC_REVIEW(store, event) {
    store.reviews.unshift(event);
    store.reviews.length = Math.min(store.reviews.length, CLOSED_CAP);
    store.mark('journal', 'journalRefresh');
  },
  RISK_STATE(store, event, seq) {
    if (!store.guard('risk', seq)) return;
    store.risk = { mode: event.mode, kill_switch: event.kill_switch, reason: event.reason,
      blocked_by: event.blocked_by || [], blocked_words: event.blocked_words || '', seq };
    store.mark('header');
  },
  CONTROL_RESULT(store, event, seq) {
    store.lastControl = event;
    if (event.ok && event.mode && store.guard('risk', seq)) {
      store.risk = { ...store.risk, mode: event.mode, seq };
    }
    store.mark('header', 'control');
  },
  BROKER_STATUS(store, event, seq) {
    if (!store.guard('broker', seq)) return;
    const { type, ...rest } = event;
    store.broker = rest;
    store.mark('header');
  },
  QUOTE(store, event) {
    store.applyQuote(event); // numbered: the daemon journals quotes (broadcaster.journal_quotes)
  },
  ACTOR_RESTARTED(store, event) {
    store.restarts.push(event);
    if (store.restarts.length > 500) store.restarts.splice(0, store.restarts.length - 500);
    store.mark('supervisors');
  },
};
