// The event log: the latest 200 events, newest first, with a type filter and a free-text search.
// Each type has a one-line description; a research result shows its action, confidence and
// reason. Rows are keyed by seq and reused, so a busy stream costs one list update per frame.
// Account and position updates are shown in their own panels, not here (as in the seed).

import { byId, h, keepFocus, setText } from '../dom.js';
import { clockTime, lots, price, signed } from '../format.js';
import { LOG_CAP } from '../store.js';

const describeCache = new WeakMap();

export function describe(event) {
  let d = describeCache.get(event);
  if (!d) {
    d = (DESCRIBE[event.type] || describeOther)(event);
    describeCache.set(event, d);
  }
  return d;
}

/** Short labels for the type column (the filter and data-type keep the wire names). */
const LABELS = {
  SCAN_START: 'SCAN', SCAN_SUMMARY: 'SCAN DONE', RESEARCH_START: 'RESEARCHING', RESEARCH_RESULT: 'RESEARCH',
  TRADE_EXECUTION: 'FILL', ORDER_REJECTED: 'REJECTED', POSITION_CLOSED: 'CLOSED', CRITIC_REVIEW: 'REVIEW',
  RISK_STATE: 'RISK MODE', CONTROL_RESULT: 'CONTROL', BROKER_STATUS: 'BROKER', ACTOR_RESTARTED: 'RESTART',
  BENCH_TICK: 'BENCH TICK',
};

const pct = (v) => (Number.isFinite(Number(v)) ? `${Math.round(Number(v))}%` : '?');

const DESCRIBE = {
  SCAN_START: (e) => ({ text: `Scan started — ${e.count ?? '?'} symbols` }),
  SCAN_SUMMARY: (e) => {
    const symbols = e.symbols || {};
    const candidates = Object.entries(symbols).filter(([, r]) => String(r).startsWith('CANDIDATE'))
      .map(([s, r]) => `${s} ${String(r).split(':')[0].replace('CANDIDATE ', '')}`);
    return { text: `Scan done — ${e.count ?? Object.keys(symbols).length} symbols, ${e.candidates ?? candidates.length} candidate(s)${candidates.length ? `: ${candidates.join(', ')}` : ''}` };
  },
  RESEARCH_START: (e) => ({ cls: 'research', text: `Researching ${e.symbol}…` }),
  RESEARCH_RESULT: (e) => ({
    cls: 'research',
    text: `${e.symbol} ${e.action} ${pct(e.confidence)} — ${e.reason}${e.source ? ` · ${e.source}` : ''}`,
  }),
  TRADE_EXECUTION: (e) => ({
    cls: 'trade',
    text: `${e.direction} ${e.symbol} ${lots(e.lot)} lots @ ${price(e.price, e.symbol)}${e.ticket ? ` · #${e.ticket}` : ''}`,
  }),
  ORDER_REJECTED: (e) => ({ cls: 'bad', text: `${e.direction} ${e.symbol} rejected (${e.code}${e.retcode ? ` ${e.retcode}` : ''}): ${e.reason}` }),
  POSITION_CLOSED: (e) => ({
    cls: Number(e.profit) >= 0 ? 'trade' : 'bad',
    text: `Closed #${e.ticket} ${e.direction} ${e.symbol} ${lots(e.volume)} lots ${price(e.entry_price, e.symbol)} → ${price(e.exit_price, e.symbol)} · P&L ${signed(Number(e.profit))}`,
  }),
  CRITIC_REVIEW: (e) => ({ cls: 'review', text: `${e.symbol}${e.ticket ? ` #${e.ticket}` : ''} scored ${e.score}/10 — ${lessonText(e.lesson)}` }),
  RISK_STATE: (e) => ({
    cls: e.mode === 'ACTIVE' && !e.kill_switch ? 'control' : 'warn',
    text: `Mode ${e.mode}${e.kill_switch ? ' · kill switch ON' : ''}${e.reason ? ` — ${e.reason}` : ''}`,
  }),
  CONTROL_RESULT: (e) => ({ cls: e.ok ? 'control' : 'warn', text: `${e.command}: ${e.ok ? 'done' : 'not applied'} · mode ${e.mode}${e.detail ? ` — ${e.detail}` : ''}` }),
  BROKER_STATUS: (e) => ({
    cls: e.state === 'connected' ? 'control' : 'warn',
    text: `Broker ${e.kind} ${e.state}${e.account ? ` · #${e.account}` : ''}${e.server ? ` · ${e.server}` : ''}${e.detail ? ` — ${e.detail}` : ''}`,
  }),
  ACTOR_RESTARTED: (e) => ({ cls: 'warn', text: `${e.name} restarted (pid ${e.old_pid ?? '?'} → ${e.new_pid ?? '?'}, restart ${e.restarts}): ${e.reason}` }),
  BENCH_TICK: (e) => ({ text: `tick #${e.n}` }),
};

export function lessonText(lesson) {
  if (lesson && typeof lesson === 'object') {
    return Object.values(lesson).filter((v) => typeof v === 'string' && v).join(' · ');
  }
  return String(lesson ?? '');
}

function describeOther(event) {
  const { type, timestamp, seq, ...rest } = event;
  const text = JSON.stringify(rest);
  return { text: text.length > 240 ? `${text.slice(0, 240)}…` : text };
}

export class EventsPanel {
  constructor(onOpenDecision) {
    this.list = byId('events-list');
    this.meta = byId('events-meta');
    this.typeSelect = byId('events-type');
    this.search = byId('events-search');
    this.onOpenDecision = onOpenDecision;
    this.rows = new Map();
    this.knownTypes = new Set();
    this.filterType = '';
    this.query = '';
    this.onFilterChange = () => {};
    this.typeSelect.addEventListener('change', () => { this.filterType = this.typeSelect.value; this.onFilterChange(); });
    this.search.addEventListener('input', () => { this.query = this.search.value.trim().toLowerCase(); this.onFilterChange(); });
    document.addEventListener('keydown', (e) => {
      const typing = e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement || e.target instanceof HTMLTextAreaElement;
      if (e.key === '/' && !typing && !e.ctrlKey && !e.metaKey && !e.altKey) {
        e.preventDefault();
        this.search.focus();
      }
    });
  }

  renderTypes(store) {
    const types = [...store.logTypes].sort();
    for (const type of types) {
      if (this.knownTypes.has(type)) continue;
      this.knownTypes.add(type);
      const options = [...this.typeSelect.options].slice(1);
      const before = options.find((o) => o.value > type) || null;
      this.typeSelect.insertBefore(h('option', { value: type }, type), before);
    }
  }

  render(store) {
    const latest = store.latestEvents();
    const visible = [];
    for (const event of latest) {
      if (this.filterType && event.type !== this.filterType) continue;
      if (this.query) {
        const { text } = describe(event);
        if (!`${event.type} ${text}`.toLowerCase().includes(this.query)) continue;
      }
      visible.push(event);
    }
    const keep = new Set();
    const rows = visible.map((event) => {
      keep.add(event.seq);
      let row = this.rows.get(event.seq);
      if (!row) {
        row = this.row(event);
        this.rows.set(event.seq, row);
      }
      return row;
    });
    for (const seq of this.rows.keys()) if (!keep.has(seq)) this.rows.delete(seq);
    keepFocus(this.list, () => this.list.replaceChildren(...rows));
    const filtered = this.filterType || this.query;
    setText(this.meta, filtered ? `${visible.length} of ${latest.length} shown` : `latest ${Math.min(latest.length, LOG_CAP)}`);
    if (!rows.length) {
      this.list.append(h('li', { class: 'empty' }, filtered ? 'No event matches the filter.' : 'No events yet.'));
    }
  }

  row(event) {
    const { text, cls } = describe(event);
    const message = h('span', { class: 'm', title: text }, text);
    if (event.decision_id && (event.type === 'RESEARCH_RESULT' || event.type === 'TRADE_EXECUTION' || event.type === 'CRITIC_REVIEW')) {
      message.append(h('button', {
        type: 'button', class: 'link', dataset: { key: `d${event.seq}` },
        'aria-label': `Open the decision chain of ${event.symbol}`,
        onclick: () => this.onOpenDecision(event.decision_id),
      }, 'chain ›'));
    }
    return h('li', { class: cls || '', dataset: { seq: event.seq, type: event.type } },
      h('span', { class: 't' }, clockTime(event.timestamp)),
      h('span', { class: 'k', title: event.type }, LABELS[event.type] || event.type),
      message);
  }
}
