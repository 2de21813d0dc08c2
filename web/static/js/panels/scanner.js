// The scanner: one card per symbol from each strategy's latest SCAN_SUMMARY, with the strategy's
// reason and its badge (signals first), the strategy's name when several run, the latest
// research verdict for the symbol, and whether a position is open on it. The strategy filter
// narrows it to one strategy. A card is a button: it shows the symbol on the chart.

import { h, keepFocus, setText } from '../dom.js';
import { clockTime } from '../format.js';
import { badgeFor, compareScan } from '../reasons.js';

export class ScannerPanel {
  constructor(body, meta, onSelectSymbol) {
    this.body = body;
    this.meta = meta;
    this.onSelectSymbol = onSelectSymbol;
    this.selected = null;
  }

  render(store, selected, strategy = '') {
    this.selected = selected;
    const scans = [...store.scans.values()].filter((scan) => !strategy || scan.strategy === strategy);
    this.several = store.scans.size > 1;
    const entries = scans.flatMap((scan) => Object.entries(scan.symbols || {}).map(([symbol, reason]) => (
      { symbol, strategy: scan.strategy, reason: String(reason), badge: badgeFor(reason) })));
    entries.sort(compareScan);
    const signals = entries.filter((e) => e.badge.signal).length;
    const latest = scans.map((scan) => scan.timestamp).filter(Boolean).sort().pop();
    const last = latest ? `last scan ${clockTime(latest)}` : '';
    setText(this.meta, entries.length
      ? `${signals} signal${signals === 1 ? '' : 's'} · ${entries.length} symbols · ${last}`
      : '');
    if (!entries.length) {
      this.body.replaceChildren(h('div', { class: 'empty' },
        store.scanStartedAt ? 'Scanning…' : 'No scan yet. The Strategy reports every symbol it scans here.'));
      return;
    }
    const open = new Set(store.positions.map((p) => p.symbol));
    keepFocus(this.body, () => this.body.replaceChildren(
      ...entries.map((e) => this.card(e, store.research.get(e.symbol), open.has(e.symbol)))));
  }

  card(entry, research, hasPosition) {
    const { badge } = entry;
    const classes = ['scan-card'];
    if (badge.signal) classes.push('signal');
    if (badge.direction === 'SELL') classes.push('sell');
    const extras = [];
    if (research) {
      const conf = Number(research.confidence);
      extras.push(h('span', null, `Research ${research.action} ${Number.isFinite(conf) ? `${Math.round(conf)}%` : ''}`));
    }
    if (hasPosition) extras.push(h('span', { class: 'pos' }, '● position open'));
    if (this.several && entry.strategy) extras.push(h('span', { class: 'strategy' }, entry.strategy));
    return h('button', {
      type: 'button', class: classes.join(' '), 'aria-pressed': entry.symbol === this.selected ? 'true' : 'false',
      dataset: { key: `${entry.strategy}/${entry.symbol}`, symbol: entry.symbol, badge: badge.label,
        strategy: entry.strategy }, title: entry.reason,
      onclick: () => this.onSelectSymbol(entry.symbol),
    },
    h('span', { class: 'sym' }, entry.symbol),
    h('span', { class: `badge ${badge.tone}` }, badge.label),
    h('span', { class: 'why' }, badge.detail || entry.reason),
    extras.length ? h('span', { class: 'extra' }, extras) : null);
  }
}
