import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { listenError, probeListen } from './listen-check.js';

test('probeListen: a free port passes, a port in use is reported apart, a foreign address is an error naming sidecar.listen', async () => {
  assert.deepEqual(await probeListen('127.0.0.1', 0), {});
  const busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  try {
    const port = (busy.address() as { port: number }).port;
    assert.deepEqual(await probeListen('127.0.0.1', port), { inUse: true });
    assert.equal(
      listenError(Object.assign(new Error('x'), { code: 'EADDRINUSE' }), '127.0.0.1', port)!.message,
      `sidecar.listen: "127.0.0.1:${port}" is in use by another process (EADDRINUSE); stop it, or choose another port`,
    );
  } finally {
    busy.close();
  }
  // TEST-NET-1 is never this machine's: binding fails locally, nothing is sent anywhere
  const foreign = await probeListen('192.0.2.1', 7468);
  assert.match(foreign.error!.message, /^sidecar\.listen: "192\.0\.2\.1:7468" is not an address of this machine \(EADDRNOTAVAIL\)/);
  assert.equal(listenError(new Error('other'), '127.0.0.1', 1), undefined);
});
