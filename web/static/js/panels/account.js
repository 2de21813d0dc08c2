// The account strip: balance, equity, floating P&L, the day's *realised* P&L, drawdown against
// the day's high-water mark of equity, and margin level.
//
// ACCOUNT_UPDATE's day_pl is the broker day's realised P&L plus floating (the seed labelled
// equity − balance as the day's P&L, which is only the floating part). Realised today is
// therefore day_pl − profit. The high-water mark is the highest equity seen since 00:00 UTC,
// including the balance the day started with (balance − realised today).

import { h, setText } from '../dom.js';
import { DASH, money, percent, tone } from '../format.js';

const isNum = (v) => typeof v === 'number' && Number.isFinite(v);

export class AccountPanel {
  constructor(root) {
    this.root = root;
    this.cells = {};
    for (const [key, label] of [
      ['balance', 'Balance'], ['equity', 'Equity'], ['floating', 'Floating P&L'],
      ['realised', 'Realised today'], ['drawdown', 'Drawdown (day high)'], ['margin', 'Margin level'],
    ]) {
      const value = h('div', { class: 'value num', dataset: { field: key } }, DASH);
      const foot = h('div', { class: 'foot' }, '');
      const meter = h('div', { class: 'meter', hidden: key !== 'drawdown' && key !== 'margin' }, h('i'));
      const cell = h('div', { class: 'kpi', role: 'group', 'aria-label': label },
        h('div', { class: 'label' }, label), value, foot, meter);
      this.cells[key] = { value, foot, meter };
      root.append(cell);
    }
  }

  render(store) {
    const a = store.account || {};
    const cur = a.currency || '';
    const has = Object.keys(a).length > 0;
    const floating = isNum(a.profit) ? a.profit : (isNum(a.equity) && isNum(a.balance) ? a.equity - a.balance : null);
    const realised = isNum(a.day_pl) && isNum(floating) ? a.day_pl - floating : null;

    this.set('balance', money(a.balance, cur), '', has ? `Leverage 1:${a.leverage ?? DASH}` : 'waiting for the broker');
    this.set('equity', money(a.equity, cur), '', isNum(a.margin_free) ? `Free margin ${money(a.margin_free, cur)}` : '');
    this.set('floating', money(floating, cur, { sign: true }), tone(floating),
      `${store.positions.length} open position${store.positions.length === 1 ? '' : 's'}`);
    this.set('realised', money(realised, cur, { sign: true }), tone(realised),
      isNum(a.day_pl) ? `With floating ${money(a.day_pl, cur, { sign: true })}` : 'the broker has not reported day P&L');

    const hwm = dayHighWaterMark(store, realised);
    const dd = isNum(hwm) && hwm > 0 && isNum(a.equity) ? Math.max(0, (hwm - a.equity) / hwm * 100) : null;
    this.set('drawdown', percent(dd), dd > 0 ? 'neg' : '', isNum(hwm) ? `Day high ${money(hwm, cur)}` : '');
    this.meter('drawdown', isNum(dd) ? Math.min(100, dd * 10) : 0, dd >= 5);

    const level = isNum(a.margin_level) && a.margin_level > 0 ? a.margin_level : null;
    this.set('margin', level ? percent(level, 0) : (has ? 'no margin used' : DASH), level && level < 200 ? 'neg' : '',
      isNum(a.margin) ? `Used ${money(a.margin, cur)}` : '');
    this.meter('margin', level ? Math.min(100, level / 10) : 0, level !== null && level < 200);
  }

  set(key, text, cls, foot) {
    const cell = this.cells[key];
    setText(cell.value, text);
    const className = `value num ${cls || ''}`.trim();
    if (cell.value.className !== className) cell.value.className = className;
    setText(cell.foot, foot);
  }

  meter(key, pct, bad) {
    const { meter } = this.cells[key];
    meter.firstChild.style.width = `${Math.max(0, Math.min(100, pct))}%`;
    meter.classList.toggle('bad', Boolean(bad));
  }
}

function dayHighWaterMark(store, realised) {
  const startOfDay = Math.floor(Date.now() / 86400000) * 86400;
  let high = null;
  for (const point of store.equity) {
    if (point.time >= startOfDay && (high === null || point.equity > high)) high = point.equity;
  }
  const a = store.account;
  if (isNum(a.equity) && (high === null || a.equity > high)) high = a.equity;
  if (isNum(a.balance) && isNum(realised)) {
    const opening = a.balance - realised;
    if (high === null || opening > high) high = opening;
  }
  return high;
}
