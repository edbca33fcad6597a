import assert from 'node:assert/strict';
import { request, type HttpResult } from './http.js';

/** Every Set-Cookie of an answer (none: an empty list). */
export function setCookies(res: HttpResult): string[] {
  return ([] as string[]).concat(res.headers['set-cookie'] ?? []);
}

export interface SessionUse {
  /** The session cookie's values in the order the browser held them: the first login's token, then each reissue. */
  tokens: string[];
  /** The Set-Cookie headers that carried the reissues. */
  reissues: string[];
  /** Every answer, in order. */
  answers: HttpResult[];
}

/**
 * What a browser does with a session cookie behind a proxy: one request after
 * another, each with the cookie the last answer set. Every request must pass;
 * a reissued cookie must be a new token. Stops once `until()` holds.
 */
export async function useSession(o: {
  url: string;
  token: string;
  until: () => boolean;
  path?: string;
  cookieName?: string;
  intervalMs?: number;
}): Promise<SessionUse> {
  const name = o.cookieName ?? 'tokensync';
  const use: SessionUse = { tokens: [o.token], reissues: [], answers: [] };
  while (!o.until()) {
    const current = use.tokens.at(-1)!;
    const res = await request(o.url, 'GET', o.path ?? '/', { headers: { cookie: `${name}=${current}` } });
    assert.equal(
      res.status,
      200,
      `request ${use.answers.length + 1} of a session in use (${use.tokens.length - 1} reissues so far): ${res.status} ${res.text}`,
    );
    use.answers.push(res);
    const reissue = setCookies(res).find((c) => c.startsWith(`${name}=`));
    if (reissue) {
      const token = reissue.split(';')[0]!.slice(name.length + 1);
      assert.notEqual(token, current, 'a reissue sets a new token');
      use.tokens.push(token);
      use.reissues.push(reissue);
    }
    await new Promise((r) => setTimeout(r, o.intervalMs ?? 100));
  }
  return use;
}
