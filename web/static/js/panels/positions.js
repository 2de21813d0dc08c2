// Open positions, live from POSITION_UPDATE: ticket, symbol, side, volume, entry, current
// price, SL, TP, a bar showing where the price stands between SL (left) and TP (right) with the
// entry marked, and P&L. Clicking a row shows its symbol on the chart.

import { h, keepFocus, setText } from '../dom.js';
import { lots, price, signed, tone } from '../format.js';

const isNum = (v) => typeof v === 'number' && Number.isFinite(v);

/** BUY or SELL from the seed's fields (direction, or MT5's type 0/1). */
export function sideOf(position) {
  const d = String(position.direction ?? '').toUpperCase();
  if (d === 'BUY' || d === 'SELL') return d;
  if (position.type === 0 || String(position.type).toUpperCase().includes('BUY')) return 'BUY';
  if (position.type === 1 || String(position.type).toUpperCase().includes('SELL')) return 'SELL';
  return d || '?';
}

/** Where `value` lies between SL (0) and TP (1), for either side; null without both. */
export function slToTp(position, value) {
  const sl = position.sl_price;
  const tp = position.tp_price;
  if (!isNum(sl) || !isNum(tp) || sl === 0 || tp === 0 || sl === tp || !isNum(value)) return null;
  return Math.max(0, Math.min(1, (value - sl) / (tp - sl)));
}

export class PositionsPanel {
  constructor(body, meta, onSelectSymbol) {
    this.body = body;
    this.meta = meta;
    this.onSelectSymbol = onSelectSymbol;
    this.tbody = h('tbody');
    this.table = h('table', { class: 'data', id: 'positions-table' },
      h('thead', null, h('tr', null,
        h('th', null, 'Ticket'), h('th', null, 'Symbol'), h('th', null, 'Side'), h('th', { class: 'r' }, 'Volume'),
        h('th', { class: 'r' }, 'Entry'), h('th', { class: 'r' }, 'Current'), h('th', { class: 'r' }, 'SL'),
        h('th', { class: 'r' }, 'TP'), h('th', null, 'SL → TP'), h('th', { class: 'r' }, 'P&L'),
        h('th', null, 'Strategy'))),
      this.tbody);
    this.empty = h('div', { class: 'empty' }, 'No open positions.');
    body.append(this.table, this.empty);
  }

  render(store, strategy = '') {
    // Whose position it is: the broker's row says (older rows: the fill that opened it).
    const owners = new Map(store.executions.filter((e) => e.ticket).map((e) => [e.ticket, e.strategy]));
    const ownerOf = (p) => p.strategy || owners.get(p.ticket) || '';
    const positions = store.positions.filter((p) => !strategy || ownerOf(p) === strategy);
    const currency = store.account.currency || '';
    const total = positions.reduce((sum, p) => sum + (isNum(p.profit) ? p.profit : 0), 0);
    setText(this.meta, positions.length ? `${positions.length} open · ${signed(total)} ${currency}` : '');
    this.meta.className = `aside ${tone(total)}`;
    this.empty.hidden = positions.length > 0;
    this.table.hidden = positions.length === 0;
    const rows = positions.map((p) => this.row(p, ownerOf(p)));
    keepFocus(this.tbody, () => this.tbody.replaceChildren(...rows));
  }

  row(p, strategy) {
    const side = sideOf(p);
    const progress = slToTp(p, p.price_current);
    const entryAt = slToTp(p, p.entry_price);
    const bar = progress === null
      ? h('span', { class: 'faint' }, 'no SL/TP')
      : h('div', { class: 'progress-wrap' },
        h('div', {
          class: 'progress', role: 'meter', 'aria-valuemin': 0, 'aria-valuemax': 100,
          'aria-valuenow': Math.round(progress * 100), 'aria-label': 'Price between stop loss and take profit',
        },
        entryAt === null ? null : h('span', { class: 'entry', style: `left:${entryAt * 100}%` }),
        h('span', { class: 'fill', style: `left:${progress * 100}%` })),
        h('span', { class: 'pct' }, `${Math.round(progress * 100)}%`));
    return h('tr', {
      dataset: { key: p.ticket, ticket: p.ticket, symbol: p.symbol, strategy }, tabindex: 0,
      onclick: () => this.onSelectSymbol(p.symbol),
      onkeydown: (e) => { if (e.key === 'Enter') this.onSelectSymbol(p.symbol); },
    },
    h('td', { class: 'num' }, p.ticket ?? ''),
    h('td', { class: 'mono' }, p.symbol ?? ''),
    h('td', null, h('span', { class: `side ${side.toLowerCase()}` }, side)),
    h('td', { class: 'r num' }, lots(p.volume)),
    h('td', { class: 'r num' }, price(p.entry_price, p.symbol)),
    h('td', { class: 'r num' }, price(p.price_current, p.symbol)),
    h('td', { class: 'r num neg' }, price(p.sl_price, p.symbol)),
    h('td', { class: 'r num pos' }, price(p.tp_price, p.symbol)),
    h('td', null, bar),
    h('td', { class: `r num ${tone(p.profit)}` }, signed(p.profit)),
    h('td', { class: 'dim' }, strategy || '—'));
  }
}
