// The API token: taken from ?token= on the first load (then removed from the address bar), kept
// in sessionStorage for this tab only, and asked for with a form when there is none. Without a
// token the page shows the form and nothing else: no account data is ever requested.

import { byId, setText } from './dom.js';

const KEY = 'ensemble.token';

export function takeTokenFromUrl() {
  const url = new URL(window.location.href);
  const token = url.searchParams.get('token');
  if (token !== null) {
    url.searchParams.delete('token');
    const clean = url.pathname + (url.search ? url.search : '') + url.hash;
    window.history.replaceState(null, '', clean);
    if (token.trim()) sessionStorage.setItem(KEY, token.trim());
  }
}

export function getToken() {
  return sessionStorage.getItem(KEY);
}

export function forgetToken() {
  sessionStorage.removeItem(KEY);
}

/** Check the token with a cheap authenticated call: true (accepted), false (refused), or
 *  null when the daemon could not be asked (it may be restarting). */
export async function checkToken(token) {
  try {
    const response = await fetch('/api/account', {
      headers: { Authorization: `Bearer ${token}` }, cache: 'no-store', credentials: 'omit',
    });
    if (response.status === 401) return false;
    return true;
  } catch {
    return null;
  }
}

/** Show the sign-in form; resolves with an accepted token. */
export function askForToken(message = '') {
  byId('app').hidden = true;
  const screen = byId('login');
  const form = byId('login-form');
  const input = byId('login-token');
  const error = byId('login-error');
  screen.hidden = false;
  setText(error, message);
  input.value = '';
  input.focus();
  return new Promise((resolve) => {
    const submit = async (event) => {
      event.preventDefault();
      const token = input.value.trim();
      if (!token) return;
      setText(error, 'Checking…');
      const accepted = await checkToken(token);
      if (accepted === false) {
        setText(error, 'That token was refused.');
        input.select();
        return;
      }
      if (accepted === null) {
        setText(error, 'The daemon cannot be reached. Is it running?');
        return;
      }
      sessionStorage.setItem(KEY, token);
      form.removeEventListener('submit', submit);
      screen.hidden = true;
      resolve(token);
    };
    form.addEventListener('submit', submit);
  });
}
