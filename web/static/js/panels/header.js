// The top bar: connection state with the last seq, trading mode and kill switch, the broker
// connection, the UTC clock and the four session clocks (ticking locally once a second).

import { byId, h, setData, setText } from '../dom.js';
import { duration, utcClock } from '../format.js';
import { sessionStates } from '../sessions.js';

const LABELS = {
  connecting: 'CONNECTING', live: 'LIVE', resyncing: 'RESYNCING', reconnecting: 'RECONNECTING', offline: 'OFFLINE',
};

export class Header {
  constructor() {
    this.conn = byId('conn');
    this.connLabel = byId('conn-label');
    this.connSeq = byId('conn-seq');
    this.retry = byId('conn-retry');
    this.mode = byId('mode');
    this.kill = byId('kill-flag');
    this.broker = byId('broker-text');
    this.clock = byId('clock-utc');
    this.sessionBox = byId('sessions');
    this.sessionCards = new Map();
    this.connection = { state: 'connecting', info: {} };
  }

  setConnection(state, info) {
    this.connection = { state, info };
    this.renderConnection(null);
  }

  renderConnection(store) {
    const { state, info } = this.connection;
    setData(this.conn, 'state', state);
    document.body.dataset.connection = state;
    let label = LABELS[state] || state.toUpperCase();
    if ((state === 'reconnecting' || state === 'offline') && info.retryAt) {
      const wait = Math.max(0, Math.ceil((info.retryAt - Date.now()) / 1000));
      label += info.reason ? ` · ${info.reason}` : ` · retry in ${wait}s`;
    }
    setText(this.connLabel, label);
    this.retry.hidden = !(state === 'reconnecting' || state === 'offline') || Boolean(info.reason);
    if (store) {
      setText(this.connSeq, store.lastSeq ? `seq ${store.lastSeq}` : '');
      document.body.dataset.lastSeq = String(store.lastSeq);
    }
  }

  render(store) {
    this.renderConnection(store);
    const mode = store.risk.mode ? String(store.risk.mode).toUpperCase() : '';
    setData(this.mode, 'mode', mode);
    const blocked = (store.risk.blocked_by || []).length > 0 && mode === 'ACTIVE';
    // "BLOCKED · daily loss limit" rather than an ACTIVE that trades nothing: what blocks,
    // not what announced it ("risk state restored" while it waits for the first account).
    const why = store.risk.blocked_words || (store.risk.reason || '').replace(/^blocked: /, '');
    setText(this.mode, blocked ? `BLOCKED · ${why}` : (mode ? `MODE ${mode}` : 'MODE —'));
    this.mode.dataset.blocked = blocked ? 'true' : 'false';
    this.mode.title = store.risk.reason ? `Trading mode: ${store.risk.reason}` : 'Trading mode';
    this.kill.hidden = !store.risk.kill_switch;
    this.kill.title = store.risk.reason || 'The kill switch is latched';
    setText(this.broker, brokerText(store.broker));
    setData(this.broker, 'state', store.broker.state || '');
    this.broker.className = store.broker.state === 'connected' ? '' : 'dim';
  }

  /** Once a second: the clocks. */
  tick() {
    const now = new Date();
    setText(this.clock, utcClock(now));
    for (const s of sessionStates(now.getTime())) this.renderSession(s);
    if (this.connection.state === 'reconnecting' || this.connection.state === 'offline') this.renderConnection(null);
  }

  renderSession(s) {
    let card = this.sessionCards.get(s.name);
    if (!card) {
      card = {
        root: h('div', { class: 'session', title: s.zone }),
        time: h('span', { class: 'time' }),
        state: h('span', { class: 'state' }),
        count: h('span', { class: 'count' }),
      };
      card.root.append(h('span', { class: 'name' }, s.name), card.time, card.state, card.count);
      this.sessionBox.append(card.root);
      this.sessionCards.set(s.name, card);
    }
    setData(card.root, 'status', s.status);
    setText(card.time, s.localTime);
    setText(card.state, s.status === 'open' ? 'OPEN' : s.status === 'pre-open' ? 'PRE-OPEN' : 'CLOSED');
    const verb = s.status === 'open' ? 'closes' : 'opens';
    setText(card.count, `${verb} ${duration(s.secondsToChange)}`);
    card.root.setAttribute('aria-label', `${s.name} ${s.localTime} ${s.status}, ${verb} in ${duration(s.secondsToChange)}`);
  }
}

function brokerText(broker) {
  if (!broker || !broker.kind) return 'not reported yet';
  const kind = String(broker.kind).toUpperCase();
  const mode = broker.trade_mode ? ` ${String(broker.trade_mode).toUpperCase()}` : '';
  const parts = [`${kind}${mode}`];
  if (broker.account) parts.push(`#${broker.account}`);
  if (broker.server) parts.push(broker.server);
  parts.push(broker.state || 'unknown');
  if (broker.detail && broker.state !== 'connected') parts.push(broker.detail);
  return parts.join(' · ');
}
