import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ConnectionState } from '../connection-state.js';
import { ConnectionStateManager } from './connection-state-manager.js';
import { capturingLogger, nextEvent } from '../../../integration-tests/support/zk-test-support.js';

function manager(sessionTimeoutMs = 10_000) {
  const { logger, lines } = capturingLogger('info');
  const csm = new ConnectionStateManager({ logger, sessionTimeoutMs });
  const seen: Array<[ConnectionState, ConnectionState]> = [];
  csm.on('state', (next, previous) => seen.push([next, previous]));
  return { csm, seen, lines };
}

describe('ConnectionStateManager', () => {
  it('reports connected once, then suspended / reconnected, ignoring repeats', () => {
    const { csm, seen, lines } = manager();
    assert.equal(csm.state, 'latent');
    csm.onDisconnected(); // nothing to suspend yet
    csm.onSessionLost(); // nor to lose
    csm.onConnected();
    csm.onConnected();
    csm.onDisconnected();
    csm.onDisconnected();
    csm.onConnected();
    csm.onConnected();
    assert.deepEqual(seen, [
      ['connected', 'latent'],
      ['suspended', 'connected'],
      ['reconnected', 'suspended'],
    ]);
    assert.ok(
      lines.some((l) => l.includes('connected -> suspended')),
      'logs old -> new',
    );
    csm.close();
    csm.close();
    assert.deepEqual(seen.at(-1), ['closed', 'reconnected']);
    csm.onConnected();
    assert.equal(csm.state, 'closed', 'closed is terminal');
  });

  it('turns a suspension that outlasts the session timeout into lost, then a new session into reconnected', async () => {
    const { csm, seen } = manager(5_000);
    csm.setSessionTimeout(60); // the negotiated timeout wins
    csm.onConnected();
    const lost = nextEvent(csm, 'state', (next) => next === 'lost', 2_000);
    const t0 = performance.now();
    csm.onDisconnected();
    await lost;
    assert.ok(performance.now() - t0 >= 50);
    csm.onDisconnected(); // still lost
    csm.onConnected();
    assert.deepEqual(
      seen.map(([next]) => next),
      ['connected', 'suspended', 'lost', 'reconnected'],
    );
    csm.close();
  });

  it('does not report lost when the connection comes back in time', async () => {
    const { csm, seen } = manager();
    csm.setSessionTimeout(40);
    csm.onConnected();
    csm.onDisconnected();
    csm.onConnected();
    // the only sleep here: asserting that nothing else happens after the timeout would have passed
    await new Promise((r) => setTimeout(r, 80));
    assert.deepEqual(
      seen.map(([next]) => next),
      ['connected', 'suspended', 'reconnected'],
    );
    csm.close();
  });

  it('reports an expiry while connected as lost at once', () => {
    const { csm, seen } = manager();
    csm.onConnected();
    csm.onSessionLost();
    csm.onSessionLost();
    assert.deepEqual(
      seen.map(([next]) => next),
      ['connected', 'lost'],
    );
    csm.close();
  });
});
