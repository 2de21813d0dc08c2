// Charts: candles of the selected symbol (GET /api/bars) with our entries and exits marked at
// their prices and the open positions' entry, SL and TP drawn as price lines; below, the
// account's equity curve (GET /api/equity for history, then every ACCOUNT_UPDATE live).
// Candles are fetched when the symbol or timeframe changes, on (re)connect, and after a scan or
// a trade (event-driven, at most every few seconds): never on a timer. Between fetches the
// selected symbol's QUOTE events move the last candle live (the bid, as MT5's bars are), and
// open the next one when a quote's time passes the end of the last.

import { byId, h, setText } from '../dom.js';
import { lots, num, price, priceDigits, toEpochSeconds } from '../format.js';
import { CHARTS_MISSING, COLORS, charts, themeOptions } from '../charts.js';
import { listOf, normaliseTrade } from './journal.js';
import { sideOf } from './positions.js';

const TIMEFRAMES = { M1: 60, M5: 300, M15: 900, H1: 3600, H4: 14400 };
const BAR_COUNT = 200;
const MIN_REFRESH_MS = 3000;
const STORAGE_KEY = 'ensemble.chart';

export class ChartPanel {
  constructor(api) {
    this.api = api;
    this.symbolSelect = byId('chart-symbol');
    this.tfBox = byId('chart-tf');
    this.candleBox = byId('chart-candles');
    this.candleNote = byId('chart-candles-note');
    this.legend = byId('chart-legend');
    this.foot = byId('chart-foot');
    this.equityBox = byId('chart-equity');
    this.equityNote = byId('chart-equity-note');
    this.equityLast = byId('equity-last');
    const saved = JSON.parse(localStorage.getItem(STORAGE_KEY) || '{}');
    this.symbol = typeof saved.symbol === 'string' ? saved.symbol : null;
    this.timeframe = TIMEFRAMES[saved.timeframe] ? saved.timeframe : 'M5';
    this.userChoseSymbol = Boolean(this.symbol);
    this.bars = [];
    this.barsState = 'idle';
    this.lastFetch = 0;
    this.fetching = false;
    this.pending = false;
    this.priceLines = [];
    this.decorations = '';
    this.equitySignature = '';
    this.symbols = [];
    this.onSymbolChange = () => {};

    for (const tf of Object.keys(TIMEFRAMES)) {
      this.tfBox.append(h('button', {
        type: 'button', dataset: { tf }, 'aria-pressed': String(tf === this.timeframe),
        onclick: () => this.setTimeframe(tf),
      }, tf));
    }
    this.symbolSelect.addEventListener('change', () => this.select(this.symbolSelect.value, true));
    this.chart = null;
    if (!charts) {
      // Only this panel goes without: it says why, and the rest of the page works.
      this.candleBox.dataset.chart = 'unavailable';
      this.showNote(this.candleNote, CHARTS_MISSING);
      this.showNote(this.equityNote, CHARTS_MISSING);
      return;
    }
    const { AreaSeries, CandlestickSeries, createChart, createSeriesMarkers } = charts;
    this.chart = createChart(this.candleBox, themeOptions());
    this.candles = this.chart.addSeries(CandlestickSeries, {
      upColor: COLORS.up, downColor: COLORS.down, borderVisible: false,
      wickUpColor: COLORS.up, wickDownColor: COLORS.down,
    });
    this.markers = createSeriesMarkers(this.candles, []);
    this.equityChart = createChart(this.equityBox, themeOptions({
      rightPriceScale: { borderColor: COLORS.border, scaleMargins: { top: 0.25, bottom: 0.1 } },
      timeScale: { borderColor: COLORS.border, timeVisible: true, secondsVisible: true },
    }));
    this.equity = this.equityChart.addSeries(AreaSeries, {
      lineColor: COLORS.accent, topColor: 'rgba(76,141,255,0.28)', bottomColor: 'rgba(76,141,255,0.02)',
      lineWidth: 2, priceLineVisible: false,
    });
    this.candleBox.dataset.chart = 'ready';
    this.showNote(this.candleNote, 'Choose a symbol from the scanner or the positions.');
  }

  save() {
    localStorage.setItem(STORAGE_KEY, JSON.stringify({ symbol: this.symbol, timeframe: this.timeframe }));
  }

  setTimeframe(tf) {
    this.timeframe = tf;
    for (const b of this.tfBox.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.tf === tf));
    this.save();
    this.loadBars(true);
  }

  /** Show a symbol (from the select, a scanner card or a position row). */
  select(symbol, byUser = false) {
    if (!symbol) return;
    if (byUser) this.userChoseSymbol = true;
    if (symbol === this.symbol && this.barsState === 'ok') return;
    this.symbol = symbol;
    this.bars = [];
    this.candles?.setData([]);
    this.decorations = '';
    this.save();
    this.syncSelect();
    this.onSymbolChange(symbol);
    this.loadBars(true);
  }

  /** The symbols worth offering: scanned ones, open positions and recent trades. */
  renderSymbols(store) {
    const set = new Set(Object.keys(store.scan.symbols || {}));
    for (const p of store.positions) if (p.symbol) set.add(p.symbol);
    for (const t of store.executions) if (t.symbol) set.add(t.symbol);
    if (this.symbol) set.add(this.symbol);
    const symbols = [...set].sort();
    if (symbols.join() !== this.symbols.join()) {
      this.symbols = symbols;
      this.symbolSelect.replaceChildren(...(symbols.length ? symbols : ['']).map((s) => h('option', { value: s }, s || 'no symbols yet')));
      this.syncSelect();
    }
    if (!this.userChoseSymbol || !this.symbol) {
      const preferred = store.positions[0]?.symbol
        || Object.entries(store.scan.symbols || {}).find(([, r]) => String(r).startsWith('CANDIDATE'))?.[0]
        || symbols[0];
      if (preferred && preferred !== this.symbol) this.select(preferred);
    }
  }

  syncSelect() {
    if (this.symbol && this.symbolSelect.value !== this.symbol) this.symbolSelect.value = this.symbol;
  }

  /** Fetch candles now (force) or, after an event, if the last fetch is old enough. */
  async loadBars(force = false) {
    if (!this.chart || !this.symbol) return;
    if (!force && performance.now() - this.lastFetch < MIN_REFRESH_MS) return;
    if (this.fetching) {
      this.pending = true;
      return;
    }
    this.fetching = true;
    this.lastFetch = performance.now();
    const symbol = this.symbol;
    const tf = this.timeframe;
    if (!this.bars.length) this.showNote(this.candleNote, `Loading ${symbol} ${tf}…`);
    const result = await this.api.get(`/api/bars?symbol=${encodeURIComponent(symbol)}&timeframe=${tf}&count=${BAR_COUNT}`);
    this.fetching = false;
    if (symbol !== this.symbol || tf !== this.timeframe) {
      this.loadBars(true);
      return;
    }
    if (this.pending) {
      this.pending = false;
      setTimeout(() => this.loadBars(false), MIN_REFRESH_MS);
    }
    if (!result.ok) {
      // Often passing (the broker has no bars for the symbol yet): the next event asks again.
      this.barsState = 'error';
      this.bars = [];
      this.candles.setData([]);
      this.showNote(this.candleNote, `Candles for ${symbol}: ${result.error}`);
      this.candleBox.dataset.bars = '0';
      return;
    }
    this.bars = normaliseBars(listOf(result.data, 'bars'));
    this.barsState = 'ok';
    const digits = priceDigits(symbol, this.bars[this.bars.length - 1]?.close);
    this.candles.applyOptions({ priceFormat: { type: 'price', precision: digits, minMove: 10 ** -digits } });
    this.candles.setData(this.bars);
    this.candleBox.dataset.bars = String(this.bars.length);
    this.candleBox.dataset.lastClose = String(this.bars[this.bars.length - 1]?.close ?? '');
    this.candleBox.dataset.lastTime = String(this.bars[this.bars.length - 1]?.time ?? '');
    this.candleBox.dataset.symbol = symbol;
    this.showNote(this.candleNote, this.bars.length ? '' : `No ${tf} bars for ${symbol} yet.`);
    this.decorations = '';
    this.renderDecorations(this.lastStore);
    if (this.bars.length && !this.fitted) {
      this.chart.timeScale().fitContent();
      this.fitted = true;
    }
    this.renderLegend();
  }

  /** A quote of the selected symbol: its bid moves the last candle, or opens the next. */
  applyQuote(quote) {
    if (!this.chart || !quote || quote.symbol !== this.symbol || !this.bars.length) return;
    const step = TIMEFRAMES[this.timeframe];
    const last = this.bars[this.bars.length - 1];
    const time = Math.floor(quote.time);
    if (!Number.isFinite(time) || time < last.time || !Number.isFinite(quote.bid)) return;
    const value = quote.bid;
    let bar;
    if (time < last.time + step) {
      bar = { ...last, close: value, high: Math.max(last.high, value), low: Math.min(last.low, value) };
      this.bars[this.bars.length - 1] = bar;
    } else {
      const open = last.time + Math.floor((time - last.time) / step) * step;
      bar = { time: open, open: value, high: value, low: value, close: value };
      this.bars.push(bar);
      this.candleBox.dataset.bars = String(this.bars.length);
    }
    this.candles.update(bar);
    this.candleBox.dataset.quoteMoves = String(Number(this.candleBox.dataset.quoteMoves || 0) + 1);
    this.candleBox.dataset.lastClose = String(bar.close);
    this.candleBox.dataset.lastTime = String(bar.time);
    this.renderLegend();
  }

  /** After a connection starts: candles again. */
  reconnected() {
    this.loadBars(true);
  }

  showNote(el, text) {
    setText(el, text);
    el.hidden = !text;
  }

  render(store, journalTrades) {
    this.lastStore = store;
    this.journalTrades = journalTrades;
    this.renderDecorations(store);
  }

  renderLegend() {
    const last = this.bars[this.bars.length - 1];
    this.legend.replaceChildren(
      h('span', null, h('b', null, this.symbol || ''), ` ${this.timeframe}`),
      last ? h('span', null, 'O ', h('b', null, price(last.open, this.symbol)), ' H ', h('b', null, price(last.high, this.symbol)),
        ' L ', h('b', null, price(last.low, this.symbol)), ' C ', h('b', null, price(last.close, this.symbol))) : null,
    );
  }

  /** Entry/exit markers and SL/TP lines for the selected symbol. */
  renderDecorations(store) {
    if (!this.chart || !store || !this.symbol) return;
    const symbol = this.symbol;
    const entries = store.executions.filter((t) => t.symbol === symbol);
    const exits = new Map();
    for (const e of store.closed) {
      const t = normaliseTrade(e);
      if (t.symbol === symbol) exits.set(t.key, t);
    }
    for (const item of this.journalTrades || []) {
      const t = normaliseTrade(item);
      if (t.symbol === symbol) exits.set(t.key, { ...t, fromJournal: true });
    }
    const positions = store.positions.filter((p) => p.symbol === symbol);
    const signature = JSON.stringify([this.bars.length, this.bars[0]?.time, this.bars[this.bars.length - 1]?.time,
      entries.map((t) => t.seq), [...exits.keys()], positions.map((p) => [p.ticket, p.sl_price, p.tp_price, p.entry_price])]);
    if (signature === this.decorations) return;
    this.decorations = signature;

    // Journal trades carry market times (exact); a live event only has its wall-clock time,
    // which a sped-up simulated market runs ahead of, so it is placed on the bar that holds its
    // price (see place()).
    const markers = [];
    const journalTickets = new Set();
    for (const t of exits.values()) {
      if (t.ticket !== null) journalTickets.add(String(t.ticket));
      const buy = t.direction === 'BUY';
      const opened = t.openedAt !== null && Number.isFinite(t.entry) ? this.snap(t.openedAt) : null;
      if (opened !== null) {
        markers.push(entryMarker(opened, t.entry, buy, t.volume, `entry-${t.key}`));
      }
      const time = t.closedAt !== null && t.fromJournal ? this.snap(t.closedAt) : this.place(t.closedAt, t.exit);
      if (time === null || !Number.isFinite(t.exit)) continue;
      markers.push({
        time, position: 'atPriceMiddle', price: t.exit, shape: 'circle',
        color: t.profit >= 0 ? COLORS.up : COLORS.down, text: `exit ${t.profit >= 0 ? '+' : ''}${num(t.profit, 2)}`, id: `exit-${t.key}`,
      });
    }
    for (const t of entries) {
      if (t.ticket !== undefined && t.ticket !== null && journalTickets.has(String(t.ticket))) continue;
      const time = this.place(toEpochSeconds(t.timestamp), t.price);
      if (time === null || !Number.isFinite(t.price)) continue;
      const buy = String(t.direction).toUpperCase() === 'BUY';
      markers.push(entryMarker(time, t.price, buy, t.lot, `entry-${t.seq}`));
    }
    markers.sort((a, b) => a.time - b.time);
    this.markers.setMarkers(markers);
    this.candleBox.dataset.markers = String(markers.length);

    for (const line of this.priceLines) this.candles.removePriceLine(line);
    this.priceLines = [];
    const footItems = [];
    for (const p of positions) {
      const side = sideOf(p);
      const add = (value, color, title, style) => {
        if (!Number.isFinite(value) || value === 0) return;
        this.priceLines.push(this.candles.createPriceLine({
          price: value, color, lineWidth: 1, lineStyle: style, axisLabelVisible: true, title,
        }));
      };
      add(p.entry_price, COLORS.entry, `${side} #${p.ticket}`, charts.LineStyle.Dotted);
      add(p.sl_price, COLORS.down, 'SL', charts.LineStyle.Dashed);
      add(p.tp_price, COLORS.up, 'TP', charts.LineStyle.Dashed);
      footItems.push(h('span', null, `${side} #${p.ticket} @ ${price(p.entry_price, symbol)}`),
        h('span', null, h('i', { class: 'sw', style: `background:${COLORS.down}` }), `SL ${price(p.sl_price, symbol)}`),
        h('span', null, h('i', { class: 'sw', style: `background:${COLORS.up}` }), `TP ${price(p.tp_price, symbol)}`));
    }
    this.candleBox.dataset.lines = String(this.priceLines.length);
    if (!footItems.length) {
      footItems.push(h('span', { class: 'faint' }, `No open position on ${symbol}.`));
    }
    footItems.push(h('span', { class: 'faint' }, `${markers.length} trade mark${markers.length === 1 ? '' : 's'} · times in UTC`));
    this.foot.replaceChildren(...footItems);
  }

  /** The bar for a live fill at `price` reported at wall time `time`: that time's bar if its
   *  range holds the price, else the latest bar that does, else that time's bar. */
  place(time, value) {
    const at = this.snap(time);
    if (at === null || !Number.isFinite(value)) return at;
    const holds = (bar) => bar.low <= value && value <= bar.high;
    const index = this.bars.findIndex((bar) => bar.time === at);
    if (index >= 0 && holds(this.bars[index])) return at;
    for (let i = this.bars.length - 1; i > index; i -= 1) if (holds(this.bars[i])) return this.bars[i].time;
    return at;
  }

  /** The open time of the bar that holds `time` (markers must sit on a bar). */
  snap(time) {
    if (time === null || !this.bars.length) return null;
    if (time < this.bars[0].time) return null;
    const last = this.bars[this.bars.length - 1].time;
    if (time >= last) return last;
    let lo = 0;
    let hi = this.bars.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.bars[mid].time <= time) lo = mid;
      else hi = mid - 1;
    }
    return this.bars[lo].time;
  }

  /** GET /api/equity once per connection: the curve's history before this page opened. */
  async loadEquity(store) {
    if (!this.chart) return;
    const result = await this.api.get('/api/equity');
    this.equityState = result.ok ? 'ok' : 'error';
    if (result.ok) {
      const points = listOf(result.data, 'points')
        .map((p) => ({ time: toEpochSeconds(p.time ?? p.timestamp), equity: Number(p.equity) }))
        .filter((p) => p.time !== null && Number.isFinite(p.equity))
        .sort((a, b) => a.time - b.time);
      store.mergeEquityHistory(points);
    }
    this.renderEquity(store);
  }

  renderEquity(store) {
    if (!this.chart) return;
    const bySecond = new Map();
    for (const p of store.equity) bySecond.set(Math.floor(p.time), p.equity);
    const data = [...bySecond.entries()].sort((a, b) => a[0] - b[0]).map(([time, value]) => ({ time, value }));
    const signature = `${data.length}:${data[0]?.time}:${data[data.length - 1]?.time}:${data[data.length - 1]?.value}`;
    if (signature !== this.equitySignature) {
      this.equitySignature = signature;
      this.equity.setData(data);
      if (data.length) this.equityChart.timeScale().fitContent();
    }
    this.equityBox.dataset.points = String(data.length);
    const last = data[data.length - 1];
    setText(this.equityLast, last ? `${num(last.value, 2)} ${store.account.currency || ''}` : '');
    let note = '';
    if (data.length < 2) {
      note = this.equityState === 'error'
        ? 'Equity history could not be read: the curve grows from live account updates.'
        : 'Waiting for account updates.';
    }
    this.showNote(this.equityNote, note);
  }
}

function entryMarker(time, value, buy, volume, id) {
  return {
    time, position: 'atPriceMiddle', price: value, shape: buy ? 'arrowUp' : 'arrowDown',
    color: buy ? COLORS.up : COLORS.down, text: `${buy ? 'BUY' : 'SELL'} ${lots(volume)}`, id,
  };
}

/** Bars sorted by time with duplicates dropped (the chart requires strictly ascending times). */
export function normaliseBars(raw) {
  const byTime = new Map();
  for (const b of raw) {
    const time = toEpochSeconds(b.time ?? b.timestamp);
    const bar = { time: Math.floor(time), open: Number(b.open), high: Number(b.high), low: Number(b.low), close: Number(b.close) };
    if (time === null || ![bar.open, bar.high, bar.low, bar.close].every(Number.isFinite)) continue;
    byTime.set(bar.time, bar);
  }
  return [...byTime.values()].sort((a, b) => a.time - b.time);
}
