import { parseSecrets, type SigningKey } from './secret-file.js';

/** Fixed secrets for tests (never used outside them). */
export const TEST_SECRET_A = 'test-secret-A-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN';
export const TEST_SECRET_B = 'test-secret-B-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN';

export function testKeys(...secrets: string[]): SigningKey[] {
  return parseSecrets((secrets.length ? secrets : [TEST_SECRET_A]).join('\n'));
}
