// Short-lived notices in the corner (control results, connection problems). Announced to
// screen readers through the container's aria-live.

import { byId, h } from './dom.js';

const SHOW_MS = 6000;
const MAX_TOASTS = 4;

export function toast(text, tone = '') {
  const box = byId('toasts');
  const item = h('div', { class: `toast ${tone}`, role: 'status' }, text);
  box.append(item);
  while (box.children.length > MAX_TOASTS) box.firstElementChild.remove();
  setTimeout(() => item.remove(), SHOW_MS);
}
