import { ApiError, api, forgetToken, storeToken, storedToken, type Cluster } from './api.js';
import { byId } from './dom.js';
import { renderBanner, renderCluster } from './cluster-panel.js';
import { TokensPanel } from './tokens-panel.js';
import { SubjectPanel } from './subject-panel.js';
import { LivePanel } from './live-panel.js';

type View = 'cluster' | 'tokens' | 'subject' | 'live';
const VIEWS: View[] = ['cluster', 'tokens', 'subject', 'live'];
/** Cluster state and live charts are polled this often while shown. */
const REFRESH_MS = 3000;

const login = byId('login');
const app = byId('app');
const appError = byId('app-error');
const loginError = byId('login-error');
const tokenInput = byId<HTMLInputElement>('admin-token');
const signOut = byId<HTMLButtonElement>('sign-out');

let current: View = 'cluster';
let timer: number | undefined;

/** Any failure of an API call: a refused admin token sends the user back to sign in, with no data left on screen. */
function fail(err: unknown): void {
  if (err instanceof ApiError && err.status === 401) {
    forgetToken();
    showLogin('The admin token was refused. Enter the contents of sidecar.admin.token.file.');
    return;
  }
  appError.textContent = err instanceof Error ? err.message : String(err);
}

const tokens = new TokensPanel(fail);
const subject = new SubjectPanel(fail);
const live = new LivePanel(fail);

function showLogin(error = ''): void {
  stopRefresh();
  app.hidden = true;
  signOut.hidden = true;
  // nothing of the previous session stays in the page
  for (const id of ['cluster-summary', 'members', 'servers', 'tokens-results', 'subject-results', 'logout-result', 'charts', 'banner'])
    byId(id).replaceChildren();
  for (const id of ['tokens-status', 'subject-status', 'node-line']) byId(id).textContent = '';
  login.hidden = false;
  loginError.textContent = error;
  tokenInput.value = '';
  tokenInput.focus();
}

function showApp(cluster: Cluster): void {
  login.hidden = true;
  loginError.textContent = '';
  app.hidden = false;
  signOut.hidden = storedToken() === null;
  byId('node-line').textContent = `node ${cluster.node}, ${cluster.store.type} store`;
  select(current);
}

function select(view: View): void {
  current = view;
  appError.textContent = '';
  for (const v of VIEWS) {
    byId(`view-${v}`).hidden = v !== view;
    const button = document.querySelector<HTMLButtonElement>(`nav button[data-view="${v}"]`)!;
    if (v === view) button.setAttribute('aria-current', 'page');
    else button.removeAttribute('aria-current');
  }
  if (view === 'tokens') tokens.show();
  if (view === 'subject') subject.show();
  startRefresh();
}

async function refresh(): Promise<void> {
  try {
    const cluster = await api<Cluster>('GET', `/v1/cluster${current === 'cluster' ? '?servers=1' : ''}`);
    renderBanner(cluster);
    if (current === 'cluster') renderCluster(cluster);
  } catch (err) {
    if (err instanceof ApiError && err.status === 0) renderBanner(null, 'This sidecar does not answer.');
    else return fail(err);
  }
  if (current === 'live') await live.poll();
}

function startRefresh(): void {
  stopRefresh();
  const tick = () => {
    void refresh().finally(() => {
      if (!app.hidden) timer = window.setTimeout(tick, REFRESH_MS);
    });
  };
  tick();
}

function stopRefresh(): void {
  if (timer !== undefined) window.clearTimeout(timer);
  timer = undefined;
}

byId<HTMLFormElement>('login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const token = tokenInput.value.trim();
  tokenInput.value = '';
  void (async () => {
    try {
      const cluster = await api<Cluster>('GET', '/v1/cluster', token);
      storeToken(token);
      showApp(cluster);
    } catch (err) {
      loginError.textContent =
        err instanceof ApiError && err.status === 401
          ? 'The admin token was refused. Enter the contents of sidecar.admin.token.file.'
          : `Could not sign in: ${(err as Error).message}`;
      tokenInput.focus();
    }
  })();
});

signOut.addEventListener('click', () => {
  forgetToken();
  showLogin();
});

for (const button of document.querySelectorAll<HTMLButtonElement>('nav button[data-view]')) {
  button.addEventListener('click', () => select(button.dataset.view as View));
}

/** Start: straight in when the API answers (a stored token, or no admin token configured), else ask for one. */
void (async () => {
  try {
    showApp(await api<Cluster>('GET', '/v1/cluster'));
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      const hadToken = storedToken() !== null;
      forgetToken();
      showLogin(hadToken ? 'The admin token was refused. Enter the contents of sidecar.admin.token.file.' : '');
    } else showLogin(`The sidecar does not answer: ${(err as Error).message}`);
  }
})();
