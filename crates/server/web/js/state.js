// Per-tab state shared by the pages: the signed-in user and the current copilot session.

const SESSION_KEY = 'bulwark.session';

export const state = {
  me: null,
};

/** The session new prompts continue (null: the next prompt starts one). */
export function currentSession() {
  return sessionStorage.getItem(SESSION_KEY) || null;
}

/** Sets (or with null clears) the current session. */
export function setCurrentSession(id) {
  if (id) sessionStorage.setItem(SESSION_KEY, id);
  else sessionStorage.removeItem(SESSION_KEY);
}

/** Whether the signed-in role may change things (readers only read). */
export function canWrite() {
  return Boolean(state.me) && state.me.role !== 'reader';
}
