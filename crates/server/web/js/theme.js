// Theme: follows prefers-color-scheme unless the user picked light or dark (stored per browser).

const KEY = 'bulwark.theme';
const ORDER = ['system', 'light', 'dark'];

/** Applies the stored theme choice to <html data-theme>. */
export function applyTheme() {
  const t = localStorage.getItem(KEY) || 'system';
  if (t === 'system') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = t;
  return t;
}

/** Wires a button that cycles system → light → dark and labels itself. */
export function themeToggle(button) {
  const label = (t) => {
    button.textContent = t === 'dark' ? '☾ Dark' : t === 'light' ? '☀ Light' : '◐ System';
    button.setAttribute('aria-label', `Theme: ${t}. Activate to change.`);
  };
  label(applyTheme());
  button.addEventListener('click', () => {
    const cur = localStorage.getItem(KEY) || 'system';
    const next = ORDER[(ORDER.indexOf(cur) + 1) % ORDER.length];
    localStorage.setItem(KEY, next);
    label(applyTheme());
  });
}
