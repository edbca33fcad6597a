import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { startZooKeeper, type ZooKeeperCluster } from './zookeeper/index.js';
import { ROOT, SidecarProcess, startSidecars, tempDir } from './support/sidecar-process.js';
import { zooKeeperSidecarProps } from './support/zk-sidecars.js';
import { findExecutable } from './support/find-executable.js';
import { TIME_SCALE, waitFor } from '../sidecar/util/wait-for.js';

/**
 * The console (issue 19) in a real Chromium (Debian's, driven by playwright-core), on two real sidecars on a
 * real ZooKeeper: sign in, see both members, find and revoke a token (the other node refuses it), log a subject
 * out everywhere, watch the store-unreachable banner come and go, and a wrong admin token show no data.
 * Elements are found by role and label, as an assistive technology would. Screenshots go to docs/console/.
 */
const chromiumPath = process.env.TOKENSYNC_CHROMIUM ?? findExecutable('chromium', ['/usr/bin', '/usr/lib/chromium']);
if (!chromiumPath && process.env.TOKENSYNC_REQUIRE_BROWSER === '1') {
  throw new Error('TOKENSYNC_REQUIRE_BROWSER=1 but chromium is not installed (apt-get install -y chromium)');
}
const skip = chromiumPath ? false : 'chromium is not installed (apt-get install -y chromium; CI sets TOKENSYNC_REQUIRE_BROWSER=1)';

const ADMIN_TOKEN = 'console-test-admin-token-0123456789abcdef';
const SHOTS = join(ROOT, 'docs', 'console');
const WAIT = 15_000 * TIME_SCALE;

let zk: ZooKeeperCluster;
let a: SidecarProcess;
let b: SidecarProcess;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

before(async () => {
  if (skip) return;
  zk = await startZooKeeper();
  const { dir, props } = await zooKeeperSidecarProps(zk.connectString, '/console', { prefix: 'tokensync-console-' });
  const adminFile = join(dir, 'admin_token');
  await writeFile(adminFile, ADMIN_TOKEN + '\n', { mode: 0o600 });
  const common = { ...props, 'sidecar.admin.token.file': adminFile };
  [a, b] = await startSidecars([
    { nodeId: 'node-a', props: { ...common, 'app.data.dir': join(dir, 'a') }, adminToken: ADMIN_TOKEN },
    { nodeId: 'node-b', props: { ...common, 'app.data.dir': join(dir, 'b') }, adminToken: ADMIN_TOKEN },
  ]);
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({ executablePath: chromiumPath!, timeout: WAIT });
  page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  page.setDefaultTimeout(WAIT);
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('console', (msg) => {
    // an API answer of 4xx is logged by the browser too: those the page expects (401, 404) are not script errors
    if (msg.type() === 'error' && !/^Failed to load resource: .* status of 4\d\d/.test(msg.text())) pageErrors.push(msg.text());
  });
  page.on('response', (res) => {
    if (res.status() >= 400 && res.status() !== 401 && res.status() !== 404)
      pageErrors.push(`${res.status()} ${res.request().method()} ${res.url()}`);
  });
  await mkdir(SHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await Promise.all([a?.stop(), b?.stop()]);
  await zk?.close();
});

const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
const view = (name: string) => page.getByRole('navigation', { name: 'Views' }).getByRole('button', { name, exact: true }).click();
const alert = (text: string | RegExp): Locator => page.getByRole('alert').filter({ hasText: text });

async function issue(node: SidecarProcess, subject: string): Promise<{ token: string; jti: string }> {
  const res = await node.api.issue({ subject });
  assert.equal(res.status, 201, res.text);
  return { token: res.body.token as string, jti: res.body.jti as string };
}

/** Waits until `node` refuses `token` as revoked: the check goes to that node's HTTP API, not the page. */
async function refusedOn(node: SidecarProcess, token: string, what: string): Promise<void> {
  let last = '';
  await waitFor(
    async () => {
      const v = await node.api.validate(token);
      last = v.text;
      return v.status === 401 && v.body.reason === 'revoked';
    },
    what,
    WAIT,
    20,
  ).catch((err: Error) => {
    throw new Error(`${err.message}: last answer ${last}`);
  });
}

test('the console, in Chromium, on two sidecars over ZooKeeper', { skip }, async (t) => {
  const alice = await issue(b, 'alice');
  const bob1 = await issue(a, 'bob');
  const bob2 = await issue(b, 'bob');
  await issue(a, 'carol');
  assert.equal((await b.api.validate(alice.token)).status, 200);

  await t.test('the page carries a strict CSP, refuses framing, and holds no data before sign-in', async () => {
    const res = await a.api.get('/console/');
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-security-policy']), /script-src 'self'.*frame-ancestors 'none'/);
    assert.equal(res.headers['x-frame-options'], 'DENY');
    assert.ok(!res.text.includes('alice'));
  });

  await t.test('a wrong admin token shows an error and no data', async () => {
    await page.goto(`${a.url}/console/`);
    await page.getByLabel('Admin token').fill('not-the-admin-token');
    await page.getByLabel('Admin token').press('Enter'); // the keyboard signs in too
    await alert('The admin token was refused').waitFor();
    assert.equal(await page.getByRole('heading', { name: 'Cluster' }).isVisible(), false);
    assert.equal(await page.getByRole('table').count(), 0);
    assert.equal(await page.evaluate('sessionStorage.length'), 0, 'a refused token is not kept');
    await shot('sign-in-refused');
  });

  await t.test('the right admin token: the Cluster view lists both members and the ZooKeeper server', async () => {
    await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Cluster' }).waitFor();
    const members = page.getByRole('table').filter({ has: page.getByRole('columnheader', { name: 'Last heartbeat' }) });
    await members.getByRole('cell', { name: 'node-a', exact: true }).waitFor();
    await members.getByRole('cell', { name: 'node-b', exact: true }).waitFor();
    await page.getByRole('heading', { name: 'ZooKeeper servers' }).waitFor();
    await page.getByRole('cell', { name: 'standalone', exact: true }).waitFor();
    assert.equal(await page.evaluate("sessionStorage.getItem('tokensync-admin-token')"), ADMIN_TOKEN);
    assert.ok(!page.url().includes(ADMIN_TOKEN), 'never in a URL');
    assert.deepEqual(await page.context().cookies(), [], 'never in a cookie');
    await shot('cluster');
  });

  await t.test('Tokens: find alice by subject, revoke her token with a confirmation, and node-b refuses it', async () => {
    await view('Tokens');
    await page.getByLabel('Subject or token id').fill('alice');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('status').filter({ hasText: 'matching "alice"' }).waitFor();
    const row = page.getByRole('row').filter({ hasText: alice.jti });
    await row.waitFor();
    assert.equal(await page.getByRole('row').filter({ hasText: 'bob' }).count(), 0, 'only alice matches');
    assert.ok(!(await page.content()).includes(alice.token), 'records only, never a token');
    await shot('tokens');
    const dialog = page.getByRole('dialog', { name: 'Revoke this token?' });
    // by keyboard: Enter on the focused button opens the confirmation (Cancel focused first); Escape changes nothing
    await row.getByRole('button', { name: 'Revoke' }).focus();
    await page.keyboard.press('Enter');
    await dialog.waitFor();
    assert.equal(await dialog.getByRole('button', { name: 'Cancel' }).evaluate((b) => b === b.ownerDocument.activeElement), true);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    assert.equal((await b.api.validate(alice.token)).status, 200, 'cancelled: still valid');
    await row.getByRole('button', { name: 'Revoke' }).click();
    await dialog.waitFor();
    await shot('tokens-revoke-confirm');
    await dialog.getByRole('button', { name: 'Yes, revoke' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Revoked token ${alice.jti}` })
      .waitFor();
    await refusedOn(b, alice.token, "node-b refuses the token revoked in node-a's console");
  });

  await t.test('Tokens: a jti finds its one record; the kind filter applies', async () => {
    await page.getByLabel('Subject or token id').fill(bob1.jti);
    await page.getByRole('button', { name: 'Search' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `matching "${bob1.jti}"` })
      .waitFor();
    await page.getByRole('row').filter({ hasText: bob1.jti }).waitFor();
    assert.equal(await page.getByRole('row').filter({ hasText: bob2.jti }).count(), 0);
    await page.getByLabel('Subject or token id').fill('bob');
    await page.getByLabel('Kind').selectOption('api');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('No token records.').waitFor();
    await page.getByLabel('Kind').selectOption('');
  });

  await t.test('Subject: bob logged out everywhere; both members acknowledge; both nodes refuse his tokens', async () => {
    await view('Subject');
    await page.getByRole('textbox', { name: 'Subject', exact: true }).fill('bob');
    await page.getByRole('button', { name: 'Show tokens' }).click();
    await page.getByRole('row').filter({ hasText: bob2.jti }).waitFor();
    await page.getByRole('button', { name: 'Log out everywhere' }).click();
    await page.getByRole('dialog', { name: 'Log bob out everywhere?' }).getByRole('button', { name: 'Yes, log out everywhere' }).click();
    const acknowledged = page.getByRole('list', { name: 'Acknowledged by' });
    await acknowledged.getByText('node-a', { exact: true }).waitFor();
    await acknowledged.getByText('node-b', { exact: true }).waitFor();
    await shot('subject');
    await refusedOn(a, bob2.token, 'node-a refuses bob after the logout');
    await refusedOn(b, bob1.token, 'node-b refuses bob after the logout');
  });

  await t.test('Live: charts of validations, refusals, issues, issue and revoke propagation, mirror lag, refreshed', async () => {
    await view('Live');
    const carol = await issue(b, 'carol');
    const validations = page.getByRole('img', { name: /^Validations per second/ });
    await validations.waitFor();
    // traffic on this node until a poll interval shows it: valid, and refused as revoked (alice's token)
    const charted = page.getByRole('img', { name: /^Validations per second, now: valid [1-9]/ });
    const refusals = page.getByRole('img', { name: /^Refusals by reason, now: .*revoked [1-9]/ });
    // a few polls, so that the screenshot shows lines rather than points
    const points = async () =>
      ((await page.locator('svg.chart polyline').first().getAttribute('points')) ?? '').split(' ').filter(Boolean).length;
    await waitFor(
      async () => {
        for (let i = 0; i < 5; i++) await a.api.validate(carol.token);
        await a.api.validate(alice.token);
        return (await charted.isVisible()) && (await refusals.isVisible()) && (await points()) >= 4;
      },
      'the charts show the validations over four polls',
      WAIT,
      200,
    );
    // issue and revoke propagation to the other member, timed by node-a's probes (every 5 s, alternately)
    await page.getByRole('img', { name: /^Issue propagation to each member \(upper bound: .*\), now: node-b \d/ }).waitFor();
    await page.getByRole('img', { name: /^Revoke propagation to each member \(upper bound: .*\), now: node-b \d/ }).waitFor();
    await page
      .getByText(
        /^Measured by this node every 5 s, on its own clock, .* issue: median \d+ ms, max \d+ ms .*; revoke: median \d+ ms, max \d+ ms /,
      )
      .waitFor();
    // each member's own mirror lag stays a figure of its own
    await page.getByRole('img', { name: /^Mirror lag: .*node-a .*node-b/ }).waitFor();
    // bob's logout above was made on node-a and acknowledged by both members
    await page.getByText(/^The last logout made on this node .* was acknowledged by every member within \d+ ms\.$/).waitFor();
    await shot('live');
  });

  await t.test('ZooKeeper stopped: the banner says the store is unreachable; started again: it goes', async () => {
    await view('Cluster');
    const banner = alert('The store is unreachable');
    await zk.stop(0);
    await banner.waitFor();
    await shot('cluster-store-unreachable');
    await zk.start(0);
    await banner.waitFor({ state: 'hidden' });
    await page.getByRole('cell', { name: 'standalone', exact: true }).waitFor();
  });

  await t.test('without sidecar.admin.token.file (the README quickstart) the console opens directly', async () => {
    const dir = await tempDir('tokensync-console-open-');
    const open = await new SidecarProcess({ nodeId: 'open', props: { 'app.data.dir': join(dir, 'data') } }).start();
    try {
      const other = await browser.newPage();
      try {
        await other.goto(`${open.url}/console/`);
        await other.getByRole('heading', { name: 'Cluster' }).waitFor({ timeout: WAIT });
        await other.getByRole('cell', { name: 'open', exact: true }).waitFor({ timeout: WAIT });
        assert.equal(await other.getByLabel('Admin token').isVisible(), false);
      } finally {
        await other.close();
      }
    } finally {
      await open.stop();
    }
  });

  await t.test('the page logged no script error (CSP violations included)', () => {
    assert.deepEqual(pageErrors, []);
  });
});
