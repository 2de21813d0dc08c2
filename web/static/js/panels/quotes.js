// Live quotes of the watched symbols, from QUOTE events: bid, ask, spread (points) and the
// tick's time. Rows are kept by symbol and updated in place; a bid that went up or down since
// the last quote tints the row and flashes the changed prices (data-move = up | down), so a
// change is visible at a glance. Clicking a row shows its symbol on the chart.

import { h, setData, setText } from '../dom.js';
import { num, price } from '../format.js';

const FLASH_MS = 600;

function clock(epochSeconds) {
  if (!Number.isFinite(epochSeconds)) return '—';
  return new Date(epochSeconds * 1000).toISOString().slice(11, 19);
}

export class QuotesPanel {
  constructor(body, meta, onSelectSymbol) {
    this.meta = meta;
    this.onSelectSymbol = onSelectSymbol;
    this.rows = new Map(); // symbol -> {tr, cells, time}
    this.tbody = h('tbody', { id: 'quotes-rows' });
    this.table = h('table', { class: 'data', id: 'quotes-table' },
      h('thead', null, h('tr', null,
        h('th', null, 'Symbol'), h('th', { class: 'r' }, 'Bid'), h('th', { class: 'r' }, 'Ask'),
        h('th', { class: 'r' }, 'Spread'), h('th', { class: 'r' }, 'Time (UTC)'))),
      this.tbody);
    this.empty = h('div', { class: 'empty' }, 'Waiting for quotes.');
    body.append(this.table, this.empty);
    this.table.hidden = true;
  }

  render(store, selected) {
    const quotes = [...store.quotes.values()].sort((a, b) => a.symbol.localeCompare(b.symbol));
    this.empty.hidden = quotes.length > 0;
    this.table.hidden = quotes.length === 0;
    setText(this.meta, quotes.length ? `${quotes.length} symbol${quotes.length === 1 ? '' : 's'}` : '');
    let added = false;
    for (const quote of quotes) {
      let row = this.rows.get(quote.symbol);
      if (!row) {
        row = this.row(quote.symbol);
        this.rows.set(quote.symbol, row);
        added = true;
      }
      this.update(row, quote, selected);
    }
    if (added) this.tbody.replaceChildren(...quotes.map((q) => this.rows.get(q.symbol).tr));
    setData(this.tbody, 'count', quotes.length);
  }

  row(symbol) {
    const cell = (field, cls) => h('td', { class: cls, dataset: { field } });
    const cells = {
      symbol: h('td', { class: 'mono' }, symbol),
      bid: cell('bid', 'r num'), ask: cell('ask', 'r num'), spread: cell('spread', 'r num'),
      time: cell('time', 'r num dim'),
    };
    const tr = h('tr', {
      dataset: { key: symbol, symbol }, tabindex: 0,
      onclick: () => this.onSelectSymbol(symbol),
      onkeydown: (e) => { if (e.key === 'Enter') this.onSelectSymbol(symbol); },
    }, cells.symbol, cells.bid, cells.ask, cells.spread, cells.time);
    return { tr, cells, time: null, timer: 0 };
  }

  update(row, quote, selected) {
    setData(row.tr, 'selected', quote.symbol === selected ? 'true' : 'false');
    if (row.time === quote.time && row.bid === quote.bid && row.ask === quote.ask) return;
    row.time = quote.time;
    row.bid = quote.bid;
    row.ask = quote.ask;
    setText(row.cells.bid, price(quote.bid, quote.symbol));
    setText(row.cells.ask, price(quote.ask, quote.symbol));
    setText(row.cells.spread, num(quote.spread, Number.isInteger(quote.spread) ? 0 : 1));
    setText(row.cells.time, clock(quote.time));
    setData(row.tr, 'move', quote.move || '');
    setData(row.tr, 'updates', quote.updates);
    // Restart the flash: the class comes off, then on again on the next frame.
    row.tr.classList.remove('flash');
    clearTimeout(row.timer);
    requestAnimationFrame(() => row.tr.classList.add('flash'));
    row.timer = setTimeout(() => row.tr.classList.remove('flash'), FLASH_MS);
  }
}
