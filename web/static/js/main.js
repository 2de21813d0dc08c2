// Ensemble dashboard: start-up and wiring. Signs in (token from ?token=, kept per tab), opens the
// live connection, feeds its frames to the store, and redraws the panels whose data changed,
// at most once per animation frame. REST is used when a connection starts (supervision tree,
// journal, equity history, candles) and when an event says something new is there to fetch.

import { Api } from './api.js';
import { askForToken, checkToken, forgetToken, getToken, takeTokenFromUrl } from './auth.js';
import { LiveConnection } from './connection.js';
import { byId } from './dom.js';
import { AccountPanel } from './panels/account.js';
import { ChartPanel } from './panels/chart.js';
import { Controls } from './panels/controls.js';
import { openDecision } from './panels/decision.js';
import { EventsPanel } from './panels/events.js';
import { Header } from './panels/header.js';
import { JournalPanel, listOf } from './panels/journal.js';
import { PositionsPanel } from './panels/positions.js';
import { QuotesPanel } from './panels/quotes.js';
import { ScannerPanel } from './panels/scanner.js';
import { SupervisorsPanel } from './panels/supervisors.js';
import { Store } from './store.js';
import { toast } from './toast.js';

const JOURNAL_REFRESH_DELAY_MS = 1500;

class Dashboard {
  constructor() {
    this.store = new Store();
    this.api = new Api(getToken, () => this.tokenRefused());
    this.frame = 0;
    this.journalTimer = null;
    this.wasLive = false;
    this.signingOut = false;

    const select = (symbol) => this.chart.select(symbol, true);
    const decision = (id) => openDecision(this.api, id);
    this.header = new Header();
    this.account = new AccountPanel(byId('panel-account'));
    this.positions = new PositionsPanel(byId('positions-body'), byId('positions-meta'), select);
    this.quotes = new QuotesPanel(byId('quotes-body'), byId('quotes-meta'), select);
    this.scanner = new ScannerPanel(byId('scanner-cards'), byId('scanner-meta'), select);
    this.events = new EventsPanel(decision);
    this.events.onFilterChange = () => this.redraw('events');
    this.journal = new JournalPanel(decision, select);
    this.supervisors = new SupervisorsPanel();
    this.chart = new ChartPanel(this.api);
    this.chart.onSymbolChange = () => this.redraw('scanner');
    // One filter for the scanner and the trades: show one strategy's work, or everyone's.
    this.strategyFilter = byId('strategy-filter');
    this.strategyFilter.addEventListener('change', () => this.redraw('scanner', 'journal', 'positions'));
    this.journal.onDownload = () => this.downloadTrades();
    this.controls = new Controls(this.api, (body) => {
      if (body.mode) this.store.risk = { ...this.store.risk, mode: body.mode, kill_switch: body.kill_switch ?? this.store.risk.kill_switch };
      this.redraw('header');
    });
    this.connection = new LiveConnection({
      getTicket: async () => {
        const result = await this.api.post('/api/ws-ticket');
        if (result.ok && result.data?.ticket) return result.data;
        return result.status === 401 ? { refused: true } : null;
      },
      lastSeq: () => this.store.lastSeq,
      onEvents: (events, options) => this.receive(events, options),
      onState: (state, info) => this.connectionState(state, info),
      tokenStillValid: () => checkToken(getToken()),
    });
    byId('conn-retry').addEventListener('click', () => this.connection.retryNow());
    byId('logout').addEventListener('click', () => this.signOut());
  }

  start() {
    byId('app').hidden = false;
    this.header.tick();
    this.connection.start();
    setInterval(() => {
      this.header.tick();
      this.supervisors.tick();
    }, 1000);
    this.redraw('all');
  }

  receive(events, options) {
    if (!this.store.apply(events, options)) return false;
    if (events[0]?.type === 'STATE_SNAPSHOT') this.connected();
    this.schedule();
    return true;
  }

  /** A connection has started (its snapshot arrived): fetch what the stream does not carry. */
  connected() {
    document.body.dataset.connections = String(this.connection.connections);
    this.supervisors.load(this.api).then(() => this.redraw('supervisors'));
    this.refreshJournal();
    this.chart.loadEquity(this.store).then(() => this.redraw('equity'));
    this.chart.reconnected();
  }

  /** The closed trades as CSV, with the dashboard's strategy filter (every trade kept). */
  async downloadTrades() {
    const query = new URLSearchParams({ limit: '10000' });
    if (this.strategyFilter.value) query.set('strategy', this.strategyFilter.value);
    const result = await this.api.download(`/api/journal/trades.csv?${query}`, 'ensemble-trades.csv');
    if (!result.ok) toast(`CSV download: ${result.error}`, 'warn');
  }

  async refreshJournal() {
    this.journalTimer = null;
    await this.journal.refresh(this.api);
    this.redraw('journal', 'chart');
  }

  connectionState(state, info) {
    this.header.setConnection(state, info);
    if (info.reason === 'token refused') {
      this.tokenRefused();
      return;
    }
    if (state === 'live') {
      if (this.wasLive === 'lost') {
        const missed = this.store.lastSeq - this.lostAt;
        toast(missed > 0 ? `Live again: replayed seq ${this.lostAt + 1}–${this.store.lastSeq} from the journal.`
          : 'Live again: nothing was missed.', 'ok');
      }
      this.wasLive = true;
    } else if (this.wasLive === true && (state === 'reconnecting' || state === 'resyncing')) {
      this.wasLive = 'lost';
      this.lostAt = this.store.lastSeq;
      toast(`Connection lost at seq ${this.lostAt}: reconnecting to resume from there.`, 'warn');
    }
    this.redraw('header');
  }

  redraw(...parts) {
    this.store.mark(...parts);
    this.schedule();
  }

  /** The strategy filter lists every strategy seen; it shows once there is more than one. */
  renderStrategies(store) {
    const names = [...store.strategies].sort();
    const have = new Set([...this.strategyFilter.options].map((o) => o.value));
    for (const name of names) {
      if (!have.has(name)) this.strategyFilter.append(new Option(name, name));
    }
    this.strategyFilter.hidden = names.length < 2;
  }

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.render());
  }

  render() {
    this.frame = 0;
    const dirty = this.store.takeDirty();
    const all = dirty.has('all');
    const has = (part) => all || dirty.has(part);
    const s = this.store;
    if (has('header')) this.header.render(s);
    if (has('symbols') || has('positions')) this.chart.renderSymbols(s);
    if (has('account') || has('positions') || has('equity')) this.account.render(s);
    const strategy = this.strategyFilter.value;
    if (has('positions')) this.positions.render(s, strategy);
    if (has('quotes') || has('scanner')) this.quotes.render(s, this.chart.symbol);
    if (has('quotes')) this.chart.applyQuote(s.quotes.get(this.chart.symbol));
    if (has('strategies')) this.renderStrategies(s);
    if (has('scanner')) this.scanner.render(s, this.chart.symbol, strategy);
    if (has('eventTypes')) this.events.renderTypes(s);
    if (has('events')) this.events.render(s);
    if (has('journal')) this.journal.render(s, strategy);
    if (has('supervisors')) this.supervisors.render(s);
    if (has('control')) this.controls.render(s);
    if (has('chart') || has('journal') || has('positions')) {
      this.chart.render(s, this.journal.rest.trades?.ok ? listOf(this.journal.rest.trades.data, 'trades') : []);
    }
    if (has('equity') || has('account')) this.chart.renderEquity(s);
    if (dirty.has('chartRefresh')) this.chart.loadBars(false);
    if (dirty.has('journalRefresh') && !this.journalTimer) {
      this.journalTimer = setTimeout(() => this.refreshJournal(), JOURNAL_REFRESH_DELAY_MS);
    }
  }

  async tokenRefused() {
    if (this.signingOut) return;
    this.signingOut = true;
    this.connection.stop();
    forgetToken();
    await askForToken('The token was refused. The daemon may have been restarted with a new one.');
    window.location.reload();
  }

  signOut() {
    this.signingOut = true;
    this.connection.stop();
    forgetToken();
    window.location.replace('/');
  }
}

async function boot() {
  takeTokenFromUrl();
  let token = getToken();
  if (token && (await checkToken(token)) === false) {
    forgetToken();
    token = null;
    await askForToken('The token was refused.');
  } else if (!token) {
    await askForToken();
  }
  window.ensemble = new Dashboard();
  window.ensemble.start();
}

boot();
