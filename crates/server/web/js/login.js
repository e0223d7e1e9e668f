// Sign-in page: trades an API key for a browser session cookie and a CSRF token.

import { get, post, setCsrf } from './api.js';
import { applyTheme } from './theme.js';

applyTheme();

const form = document.getElementById('login-form');
const input = document.getElementById('api-key');
const error = document.getElementById('login-error');
const submit = document.getElementById('login-submit');

// Already signed in (a live session cookie): go straight to the app.
get('/me').then((me) => {
  setCsrf(me.csrf_token);
  location.replace('/#/prompt');
}).catch(() => { /* not signed in: stay here */ });

function showError(text) {
  error.textContent = text;
  error.hidden = false;
  input.setAttribute('aria-invalid', 'true');
  input.focus();
}

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const key = input.value.trim();
  if (!key) {
    showError('Enter an API key.');
    return;
  }
  submit.disabled = true;
  error.hidden = true;
  try {
    const me = await post('/auth/login', { api_key: key });
    setCsrf(me.csrf_token);
    input.value = '';
    // Only same-app hash routes are accepted as the destination (no open redirect).
    const next = new URLSearchParams(location.search).get('next') || '';
    location.assign('/' + (/^#\/[\w/?=&%.-]*$/.test(next) ? next : '#/prompt'));
  } catch (e) {
    showError(e.status === 401 ? 'That API key was not accepted.' : `Sign-in failed: ${e.message}`);
  } finally {
    submit.disabled = false;
  }
});
