import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import type { ConnectionState } from '../store/connection-state.js';
import type { StoreEvents } from '../store/token-store.js';
import { StoreUnavailableError } from '../errors/store-unavailable-error.js';
import { TIME_SCALE } from '../util/wait-for.js';
import { ReconnectWait } from './reconnect-wait.js';

/** A connection that tests move between states by hand (the store's part the wait listens to). */
class Connection extends EventEmitter<StoreEvents> {
  state: ConnectionState = 'suspended';
  set(next: ConnectionState): void {
    const previous = this.state;
    this.state = next;
    this.emit('state', next, previous);
  }
}

/** A read that fails while the connection is down and answers once it is up, counting its calls. */
function readOf(connection: Connection) {
  let calls = 0;
  const read = async () => {
    calls++;
    if (connection.state !== 'connected' && connection.state !== 'reconnected') throw new StoreUnavailableError('down');
    return 'answer';
  };
  return { read, calls: () => calls };
}

test('a read caught by a reconnect is asked again once the connection is back', async () => {
  const connection = new Connection();
  const wait = new ReconnectWait(connection, 60_000 * TIME_SCALE);
  const { read, calls } = readOf(connection);
  const pending = wait.across(read);
  await new Promise((r) => setImmediate(r));
  assert.equal(calls(), 1);
  connection.set('reconnected');
  assert.equal(await pending, 'answer');
  assert.equal(calls(), 2);
  assert.equal(connection.listenerCount('state'), 0);
});

test('waiters share one listener, and each gets its answer', async () => {
  const connection = new Connection();
  const wait = new ReconnectWait(connection, 60_000 * TIME_SCALE);
  const { read } = readOf(connection);
  const pending = [wait.across(read), wait.across(read), wait.across(read)];
  await new Promise((r) => setImmediate(r));
  assert.equal(connection.listenerCount('state'), 1);
  connection.set('connected');
  assert.deepEqual(await Promise.all(pending), ['answer', 'answer', 'answer']);
});

test('no reconnect within the wait: the read fails with the store error, asked once', async () => {
  const connection = new Connection();
  const wait = new ReconnectWait(connection, 20);
  const { read, calls } = readOf(connection);
  await assert.rejects(wait.across(read), StoreUnavailableError);
  assert.equal(calls(), 1);
});

test('an error that is not about the connection is thrown at once, not retried', async () => {
  const connection = new Connection();
  connection.set('connected');
  const wait = new ReconnectWait(connection, 60_000 * TIME_SCALE);
  let calls = 0;
  await assert.rejects(
    wait.across(async () => {
      calls++;
      throw new TypeError('bad');
    }),
    TypeError,
  );
  assert.equal(calls, 1);
});
