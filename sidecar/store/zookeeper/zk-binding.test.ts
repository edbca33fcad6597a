import assert from 'node:assert/strict';
import { test } from 'node:test';
import winston from 'winston';
import type { Logger } from '../../util/logger.js';
import { loadBinding, rateLimitedLines } from './zk-binding.js';

/** A debug-level logger that keeps the messages it is given. */
function recording(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = winston.createLogger({ level: 'debug', transports: [new winston.transports.Console({ silent: true })] });
  logger.on('data', (info: { message: string }) => lines.push(info.message));
  return { logger, lines };
}

test('the binding loads once and is the same class afterwards', () => {
  const first = loadBinding();
  assert.equal(typeof first, 'function');
  assert.equal(loadBinding(), first);
});

test("the binding's log: at most 20 lines a second, then how many were dropped; add_auth never shown", () => {
  const { logger, lines } = recording();
  let now = 10_000;
  const log = rateLimitedLines(logger, () => now);
  for (let i = 0; i < 25; i++) log(`line ${i}`);
  assert.equal(lines.length, 20);
  assert.equal(lines[0], 'zookeeper binding: line 0');
  now += 1000;
  log('zoo_add_auth digest user:secret');
  assert.deepEqual(lines.slice(20), ['zookeeper binding: 5 log lines dropped', 'zookeeper binding: add_auth (redacted)']);
  log('x'.repeat(2000));
  assert.equal(lines.at(-1)!.length, 'zookeeper binding: '.length + 500);
});
