// Operator controls: pause, resume, kill switch, reset kill switch, close all. Each asks for
// confirmation in a dialog, then POSTs /api/control/<command> with the bearer token and shows
// the answer: 200 (carried out, with the new mode), 409 (does not apply in this mode), 401
// (token refused) or 404 (this daemon has no such endpoint yet).

import { byId, setData, setText } from '../dom.js';
import { toast } from '../toast.js';

export const COMMANDS = {
  pause: {
    title: 'Pause new entries?',
    text: 'The Strategy stops opening positions. Open positions are still managed (stops, targets, trailing).',
    confirm: 'Pause entries',
  },
  resume: {
    title: 'Resume trading?',
    text: 'New entries are allowed again, unless the kill switch is latched or a risk limit halts trading.',
    confirm: 'Resume',
  },
  'kill-switch': {
    title: 'Trip the kill switch?',
    text: 'Every new order is refused from now on. The switch latches: it survives restarts until someone resets it.',
    confirm: 'Trip kill switch',
    danger: true,
  },
  'reset-kill-switch': {
    title: 'Reset the kill switch?',
    text: 'The kill switch is released; trading resumes in the mode the risk rules allow.',
    confirm: 'Reset kill switch',
  },
  'close-all': {
    title: 'Close all positions?',
    text: 'A market close is sent for every open position. This cannot be undone.',
    confirm: 'Close all',
    danger: true,
  },
};

/** The server's detail, unless it only repeats the command ("pause done"). */
function extra(command, detail) {
  return detail && !String(detail).startsWith(command) ? ` — ${detail}` : '';
}

export class Controls {
  constructor(api, onResult) {
    this.api = api;
    this.onResult = onResult;
    this.result = byId('control-result');
    this.dialog = byId('confirm');
    this.buttons = [...byId('controls').querySelectorAll('button[data-command]')];
    for (const button of this.buttons) {
      button.addEventListener('click', () => this.run(button.dataset.command));
    }
  }

  confirm(spec) {
    setText(byId('confirm-title'), spec.title);
    setText(byId('confirm-text'), spec.text);
    const ok = byId('confirm-ok');
    setText(ok, spec.confirm);
    ok.className = `btn ${spec.danger ? 'danger' : 'primary'}`;
    this.dialog.returnValue = '';
    this.dialog.showModal();
    byId('confirm-ok').focus();
    return new Promise((resolve) => {
      this.dialog.addEventListener('close', () => resolve(this.dialog.returnValue === 'ok'), { once: true });
    });
  }

  async run(command) {
    const spec = COMMANDS[command];
    if (!spec || !(await this.confirm(spec))) return;
    for (const b of this.buttons) b.disabled = true;
    this.show(null, `${command}: sending…`);
    const answer = await this.api.post(`/api/control/${command}`);
    for (const b of this.buttons) b.disabled = false;
    const body = answer.data || {};
    let text;
    let ok = false;
    if (answer.ok) {
      ok = true;
      text = `${command}: done · mode ${body.mode ?? '?'}${body.kill_switch ? ' · kill switch ON' : ''}${extra(command, body.detail)}`;
      this.onResult(body);
    } else if (answer.status === 409) {
      text = `${command}: does not apply — ${body.detail || body.error || 'conflict'}`;
    } else {
      text = `${command}: failed — ${answer.error}`;
    }
    this.show(ok, text, command, answer.status);
    toast(text, ok ? 'ok' : answer.status === 409 ? 'warn' : 'bad');
  }

  show(ok, text, command = '', status = '') {
    setText(this.result, text);
    this.result.title = text;
    setData(this.result, 'ok', ok === null ? '' : String(ok));
    setData(this.result, 'command', command);
    setData(this.result, 'status', status);
  }

  /** A CONTROL_RESULT event (from any dashboard or the API) shown beside the buttons. */
  render(store) {
    const e = store.lastControl;
    if (!e) return;
    const text = `${e.command}: ${e.ok ? 'done' : 'not applied'} · mode ${e.mode}${extra(e.command, e.detail)}`;
    this.show(Boolean(e.ok), text, e.command, e.ok ? 200 : 409);
  }
}
