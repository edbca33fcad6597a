import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SidecarProcess, tempDir } from './support/sidecar-process.js';

/** The idle timeout needs real time to pass; its own sidecar keeps the skew at zero so the test stays short. */
let node: SidecarProcess;
after(() => node?.stop());

test('a session unused for longer than the idle timeout is refused as idle_timeout; use keeps it alive', async () => {
  const dir = await tempDir();
  node = await new SidecarProcess({
    nodeId: 'idle',
    props: { 'app.data.dir': join(dir, 'appdata'), 'authentication.token.idle.timeout': '3s', 'authentication.token.clock.skew': '1s' },
  }).start();
  const issued = await node.api.issue({ subject: 'alice' });
  let token: string = issued.body.token;
  // in use every second for 5 s, longer than the idle timeout: each use past half the idle window reissues the cookie
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    const v = await node.api.validate(token);
    assert.equal(v.status, 200, `use ${i}: ${v.text}`);
    if (v.body.reissued) token = v.body.reissued.token;
  }
  await new Promise((r) => setTimeout(r, 5200)); // idle timeout + skew + a second of JWT time resolution
  const late = await node.api.validate(token);
  assert.equal(late.status, 401);
  assert.equal(late.body.reason, 'idle_timeout');
});
