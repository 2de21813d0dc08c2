// The decision chain dialog: scan, research, risk verdict, order, fills, close and review of
// one decision, from GET /api/journal/decisions/{id}.

import { byId, h, setText } from '../dom.js';
import { dateTime } from '../format.js';
import { listOf } from './journal.js';

export async function openDecision(api, decisionId) {
  const dialog = byId('decision');
  const chain = byId('decision-chain');
  setText(byId('decision-title'), `Decision ${decisionId}`);
  chain.replaceChildren(h('li', { class: 'dim' }, 'Loading…'));
  dialog.showModal();
  const result = await api.get(`/api/journal/decisions/${encodeURIComponent(decisionId)}`);
  if (!result.ok) {
    chain.replaceChildren(h('li', { class: 'notice' }, `The decision could not be read: ${result.error}`));
    return;
  }
  const steps = listOf(result.data, 'steps').length ? listOf(result.data, 'steps') : listOf(result.data, 'chain');
  if (!steps.length) {
    chain.replaceChildren(h('li', null, h('pre', null, JSON.stringify(result.data, null, 2))));
    return;
  }
  chain.replaceChildren(...steps.map((step) => {
    const record = step.record ?? step;
    return h('li', null,
      h('b', null, step.kind ?? step.type ?? 'step'), ' ', h('span', { class: 'dim' }, dateTime(step.at ?? step.timestamp)),
      h('pre', null, JSON.stringify(record, null, 2)));
  }));
}
