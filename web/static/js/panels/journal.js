// Trades and journal, in three tabs: executions as they happen (TRADE_EXECUTION), closed trades
// with the Critic's review (score, lesson) from /api/journal/trades merged with live
// POSITION_CLOSED and CRITIC_REVIEW events, and the day's stats (/api/journal/daily) with the
// calibration of research confidence (/api/journal/calibration) as a reliability chart.
// The REST parts are fetched when a connection starts and again when a trade closes or is
// reviewed, never on a timer; a failed read says why in its tab.

import { byId, h, keepFocus, setText } from '../dom.js';
import { clockTime, dateTime, lots, num, price, signed, toEpochSeconds, tone } from '../format.js';
import { lessonText } from './events.js';
import { ReliabilityChart } from './reliability.js';

const TABS = [['executions', 'Executions'], ['closed', 'Closed trades'], ['stats', 'Day & calibration']];
const isNum = (v) => typeof v === 'number' && Number.isFinite(v);

export class JournalPanel {
  constructor(onOpenDecision, onSelectSymbol) {
    this.onOpenDecision = onOpenDecision;
    this.onSelectSymbol = onSelectSymbol;
    this.meta = byId('journal-meta');
    this.tabList = byId('journal-tabs');
    this.panels = {};
    this.tabs = {};
    this.active = 'executions';
    const host = byId('journal-panels');
    for (const [key, label] of TABS) {
      const tab = h('button', {
        type: 'button', class: 'tab', role: 'tab', id: `tab-${key}`, 'aria-controls': `tabpanel-${key}`,
        dataset: { tab: key }, onclick: () => this.select(key),
      }, label);
      tab.addEventListener('keydown', (e) => this.arrowKeys(e));
      this.tabs[key] = tab;
      this.tabList.append(tab);
      const panel = h('div', { class: 'tabpanel', role: 'tabpanel', id: `tabpanel-${key}`, 'aria-labelledby': `tab-${key}` });
      this.panels[key] = panel;
      host.append(panel);
    }
    this.rest = { trades: null, daily: null, calibration: null };
    this.reliability = null;
    this.onDownload = null;
    // Above the closed trades: their CSV (/api/journal/trades.csv, the dashboard's filter).
    this.tools = h('div', { class: 'journal-tools' }, h('button', {
      type: 'button', class: 'btn small ghost', id: 'journal-csv',
      title: 'Download the closed trades (of the chosen strategy) as CSV',
      onclick: () => this.onDownload?.(),
    }, 'Download CSV'));
    this.select('executions');
  }

  arrowKeys(e) {
    if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return;
    const keys = TABS.map(([k]) => k);
    const next = keys[(keys.indexOf(this.active) + (e.key === 'ArrowRight' ? 1 : keys.length - 1)) % keys.length];
    this.select(next);
    this.tabs[next].focus();
  }

  select(key) {
    this.active = key;
    for (const [k, tab] of Object.entries(this.tabs)) {
      tab.setAttribute('aria-selected', String(k === key));
      tab.tabIndex = k === key ? 0 : -1;
      this.panels[k].hidden = k !== key;
    }
    if (key === 'stats') this.reliability?.resize();
  }

  /** Fetch the journal's REST parts (on connect, and when a trade closes or is reviewed). */
  async refresh(api) {
    const [trades, daily, calibration] = await Promise.all([
      api.get('/api/journal/trades'), api.get('/api/journal/daily'), api.get('/api/journal/calibration'),
    ]);
    this.rest = { trades, daily, calibration };
    this.restVersion = (this.restVersion || 0) + 1;
  }

  render(store, strategy = '') {
    this.strategy = strategy;
    this.renderExecutions(store);
    this.renderClosed(store);
    this.renderStats(store);
  }

  /** Rows of the chosen strategy (all without a filter). */
  ofStrategy(rows) {
    return this.strategy ? rows.filter((row) => row.strategy === this.strategy) : rows;
  }

  renderExecutions(store) {
    const panel = this.panels.executions;
    setText(this.meta, store.executions.length ? `${store.executions.length} fills` : '');
    if (!store.executions.length) {
      panel.replaceChildren(h('div', { class: 'empty' }, 'No executions yet. Fills appear here as the broker confirms them.'));
      return;
    }
    const rows = this.ofStrategy(store.executions).map((t) => h('tr', {
      dataset: { key: `x${t.seq}`, seq: t.seq, ticket: t.ticket ?? '', symbol: t.symbol,
        strategy: t.strategy ?? '' }, tabindex: 0,
      title: 'Show on the chart', onclick: () => this.onSelectSymbol(t.symbol),
      onkeydown: (e) => { if (e.key === 'Enter') this.onSelectSymbol(t.symbol); },
    },
      h('td', { class: 'num dim' }, clockTime(t.timestamp)),
      h('td', { class: 'mono' }, t.symbol),
      h('td', null, h('span', { class: `side ${String(t.direction).toLowerCase()}` }, t.direction)),
      h('td', { class: 'r num' }, lots(t.lot)),
      h('td', { class: 'r num' }, price(t.price, t.symbol)),
      h('td', { class: 'num dim' }, t.ticket ? `#${t.ticket}` : ''),
      h('td', { class: 'dim' }, t.strategy || '—'),
      h('td', null, t.decision_id ? this.chainButton(t.decision_id, `e${t.seq}`) : '')));
    keepFocus(panel, () => panel.replaceChildren(h('table', { class: 'data', id: 'executions-table' },
      h('thead', null, h('tr', null, h('th', null, 'Time'), h('th', null, 'Symbol'), h('th', null, 'Side'),
        h('th', { class: 'r' }, 'Lots'), h('th', { class: 'r' }, 'Price'), h('th', null, 'Ticket'),
        h('th', null, 'Strategy'), h('th', null, ''))),
      h('tbody', null, rows))));
  }

  chainButton(decisionId, key) {
    return h('button', {
      type: 'button', class: 'btn small ghost', dataset: { key },
      onclick: (e) => { e.stopPropagation(); this.onOpenDecision(decisionId); },
      onkeydown: (e) => e.stopPropagation(),
    }, 'chain ›');
  }

  closedTrades(store) {
    const byKey = new Map();
    const rest = this.rest.trades;
    if (rest?.ok) {
      for (const item of listOf(rest.data, 'trades')) {
        const trade = normaliseTrade(item);
        byKey.set(trade.key, trade);
      }
    }
    for (const event of [...store.closed].reverse()) {
      const trade = normaliseTrade(event);
      byKey.set(trade.key, { ...byKey.get(trade.key), ...trade, review: byKey.get(trade.key)?.review ?? null });
    }
    for (const review of [...store.reviews].reverse()) {
      for (const trade of byKey.values()) {
        if ((review.ticket && trade.ticket === review.ticket) || (review.decision_id && trade.decision_id === review.decision_id)) {
          trade.review = { score: review.score, lesson: review.lesson, analysis: review.analysis };
        }
      }
    }
    return [...byKey.values()].sort((a, b) => (b.closedAt ?? 0) - (a.closedAt ?? 0));
  }

  renderClosed(store) {
    const panel = this.panels.closed;
    const trades = this.ofStrategy(this.closedTrades(store));
    const notes = [];
    if (this.rest.trades && !this.rest.trades.ok) {
      notes.push(h('div', { class: 'notice' }, `Trade history: ${this.rest.trades.error} (GET /api/journal/trades). Trades closed while this page is open are listed.`));
    }
    if (!trades.length) {
      panel.replaceChildren(this.tools, ...notes, h('div', { class: 'empty' }, 'No closed trades yet.'));
      return;
    }
    const rows = trades.flatMap((t) => {
      const select = () => this.onSelectSymbol(t.symbol);
      const lesson = t.review ? lessonText(t.review.lesson) : '';
      const main = h('tr', {
        class: 'trade-main', dataset: { key: `t${t.key}`, ticket: t.ticket ?? '', symbol: t.symbol }, tabindex: 0,
        title: 'Show on the chart', onclick: select, onkeydown: (e) => { if (e.key === 'Enter') select(); },
      },
      h('td', { class: 'num dim', title: dateTime(t.closedAt) }, clockTime(t.closedAt)),
      h('td', { class: 'mono' }, t.symbol),
      h('td', null, h('span', { class: `side ${t.direction.toLowerCase()}` }, t.direction), ` ${lots(t.volume)}`),
      h('td', { class: 'dim' }, t.strategy || '—'),
      h('td', { class: `r num ${tone(t.profit)}` }, signed(t.profit)),
      h('td', { class: 'r' }, t.review && isNum(Number(t.review.score))
        ? h('span', { class: `score ${scoreTone(Number(t.review.score))}`, title: t.review.analysis || '' }, num(Number(t.review.score), 1))
        : h('span', { class: 'faint' }, 'pending')));
      const detail = h('tr', { class: 'trade-detail', dataset: { ticket: t.ticket ?? '' } },
        h('td', { colspan: 6, class: 'lesson', title: lesson },
          h('div', null, h('span', { class: 'num' }, `${price(t.entry, t.symbol)} → ${price(t.exit, t.symbol)}`),
            lesson ? ` · ${lesson}` : ' · waiting for the Critic’s review',
            t.decision_id ? this.chainButton(t.decision_id, `c${t.key}`) : null)));
      return [main, detail];
    });
    keepFocus(panel, () => panel.replaceChildren(this.tools, ...notes, h('table', { class: 'data', id: 'closed-table' },
      h('thead', null, h('tr', null, h('th', null, 'Closed'), h('th', null, 'Symbol'), h('th', null, 'Side'),
        h('th', null, 'Strategy'), h('th', { class: 'r' }, 'P&L'), h('th', { class: 'r' }, 'Score'))),
      h('tbody', null, rows))));
  }

  renderStats() {
    if (this.statsVersion === this.restVersion) return;
    this.statsVersion = this.restVersion;
    const panel = this.panels.stats;
    const parts = [];
    const daily = this.rest.daily;
    if (!daily) {
      parts.push(h('div', { class: 'empty' }, 'Loading…'));
    } else if (!daily.ok) {
      parts.push(h('div', { class: 'notice' }, `Day stats: ${daily.error} (GET /api/journal/daily).`));
    } else {
      const d = daily.data || {};
      const total = Number(d.total ?? 0);
      const wins = Number(d.wins ?? 0);
      const rate = total > 0 ? (wins / total) * 100 : (isNum(d.win_rate) ? (d.win_rate <= 1 ? d.win_rate * 100 : d.win_rate) : null);
      parts.push(h('div', { class: 'section-title' }, `Trades closed on ${d.day ?? 'the day'} (UTC)`));
      parts.push(h('div', { class: 'stats', id: 'day-stats' },
        stat('Trades', String(total)),
        stat('Won / lost', `${wins} / ${d.losses ?? 0}`),
        stat('Win rate', rate === null ? '—' : `${num(rate, 0)}%`),
        stat('Profit', signed(Number(d.total_profit)), tone(Number(d.total_profit)))));
    }
    const calibration = this.rest.calibration;
    parts.push(h('div', { class: 'section-title' }, 'Calibration of research confidence (hit rate by confidence)'));
    const chartHost = h('div', { class: 'reliability', id: 'reliability-chart' });
    if (!calibration) {
      parts.push(h('div', { class: 'empty' }, 'Loading…'));
    } else if (!calibration.ok) {
      parts.push(h('div', { class: 'notice' }, `Calibration: ${calibration.error} (GET /api/journal/calibration).`));
    } else {
      const c = calibration.data || {};
      const bins = Array.isArray(c.bins) ? c.bins : [];
      const filled = bins.filter((b) => Number(b.count) > 0);
      parts.push(h('div', { class: 'stats' },
        stat('Brier', isNum(c.brier) ? num(c.brier, 3) : '—'),
        stat('Decisions', String(c.count ?? filled.reduce((s, b) => s + Number(b.count), 0))),
        stat('ECE', isNum(c.ece ?? c.expected_calibration_error) ? num(c.ece ?? c.expected_calibration_error, 3) : '—'),
        stat('Bins used', `${filled.length} / ${bins.length}`)));
      if (filled.length) {
        parts.push(chartHost);
        parts.push(binTable(bins));
      } else {
        parts.push(h('div', { class: 'empty' }, 'No reviewed decisions yet: the chart appears once trades have closed.'));
      }
    }
    panel.replaceChildren(...parts);
    if (chartHost.isConnected) {
      this.reliability ??= new ReliabilityChart();
      this.reliability.show(chartHost, calibration.data.bins);
    }
  }
}

function stat(label, value, cls = '') {
  return h('div', { class: 'stat' }, h('div', { class: 'label' }, label), h('div', { class: `value ${cls}` }, value));
}

function scoreTone(score) {
  if (score >= 7) return 'good';
  if (score >= 4) return 'mid';
  return 'bad';
}

export function listOf(data, key) {
  if (Array.isArray(data)) return data;
  if (data && Array.isArray(data[key])) return data[key];
  if (data && Array.isArray(data.items)) return data.items;
  return [];
}

/** A closed trade from the journal (flat, or {record, decision_id, at}) or a POSITION_CLOSED. */
export function normaliseTrade(item) {
  const base = item && typeof item.record === 'object' && item.record !== null
    ? { ...item.record, decision_id: item.record.decision_id || item.decision_id, at: item.at }
    : { ...item };
  const review = base.review || base.critic || (base.score !== undefined ? { score: base.score, lesson: base.lesson, analysis: base.analysis } : null);
  const closedAt = toEpochSeconds(base.closed_at ?? base.close_time ?? base.time_close ?? base.exit_time ?? base.timestamp ?? base.at);
  return {
    key: String(base.ticket ?? base.position ?? base.decision_id ?? base.id ?? closedAt),
    ticket: base.ticket ?? base.position ?? null,
    symbol: base.symbol ?? '',
    direction: String(base.direction ?? base.side ?? '').toUpperCase(),
    volume: Number(base.volume ?? base.lot),
    entry: Number(base.entry_price ?? base.price_open ?? base.entry),
    exit: Number(base.exit_price ?? base.price_close ?? base.exit),
    profit: Number(base.profit),
    closedAt,
    openedAt: toEpochSeconds(base.opened_at ?? base.open_time ?? base.time_open ?? base.entry_time),
    decision_id: base.decision_id || null,
    strategy: base.strategy || '',
    review,
  };
}

function binTable(bins) {
  const rate = (b) => {
    const v = b.hit_rate ?? b.win_rate;
    if (!isNum(v)) return '—';
    return `${num(v <= 1 ? v * 100 : v, 0)}%`;
  };
  return h('table', { class: 'data', id: 'calibration-table' },
    h('thead', null, h('tr', null, h('th', null, 'Confidence'), h('th', { class: 'r' }, 'Decisions'),
      h('th', { class: 'r' }, 'Mean confidence'), h('th', { class: 'r' }, 'Hit rate'))),
    h('tbody', null, bins.map((b) => h('tr', null,
      h('td', { class: 'num' }, `${num(Number(b.lower), 0)}–${num(Number(b.upper), 0)}%`),
      h('td', { class: 'r num' }, String(b.count ?? 0)),
      h('td', { class: 'r num' }, isNum(b.mean_confidence) ? `${num(b.mean_confidence, 0)}%` : '—'),
      h('td', { class: 'r num' }, rate(b))))));
}
