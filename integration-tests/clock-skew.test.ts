import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../sidecar/util/wait-for.js';
import { FAKETIME_MISSING, faketimeLibrary } from './support/faketime.js';
import { claimsOf, sleep } from './support/load.js';
import type { SidecarProcess } from './support/sidecar-process.js';
import { startSkewCluster, type SkewCluster, type SkewStore } from './support/skew-cluster.js';

/**
 * Issue #15's measurements with real sidecar processes whose wall clocks are shifted (libfaketime), on
 * ZooKeeper and on a shared DIRECTORY store: `a` runs 20 s ahead, `b` on time, `c` 10 s behind (at most 30 s
 * apart: the default `authentication.token.clock.skew`), `d` 90 s ahead, beyond the skew.
 *
 * - a token issued on a node ahead, logged out on a node behind (and the other way round): refused on every
 *   node once the logout returned with every member acknowledging;
 * - a login on a node behind right after a logout on a node ahead (and the other way round): accepted at once;
 * - issues in flight while the logout runs: every node gives each the same answer, and every token answered
 *   before the logout was sent is refused;
 * - beyond the skew: what the skew setting protects (expiry), and that logout does not depend on it;
 * - ZooKeeper, a node cut off from the store: an issue it journaled, and a logout it journaled.
 */
const SKIP = faketimeLibrary() ? false : FAKETIME_MISSING;
const OFFSETS = { a: 20, b: 0, c: -10, d: 90 } as const;
type Id = keyof typeof OFFSETS;

for (const store of ['ZOOKEEPER', 'DIRECTORY'] as SkewStore[]) {
  describe(`clock skew on ${store}`, { skip: SKIP }, () => {
    let cluster: SkewCluster;
    const n = (id: Id): SidecarProcess => cluster.node(id);
    const all = (): SidecarProcess[] => (['a', 'b', 'c', 'd'] as Id[]).map(n);
    let round = 0;
    const subject = (what: string) => `${what}-${store.toLowerCase()}-${++round}`;

    before(async () => {
      cluster = await startSkewCluster(
        store,
        (Object.keys(OFFSETS) as Id[]).map((id) => ({ nodeId: id, offset: OFFSETS[id], proxied: id === 'c' })),
      );
      // each clock really is shifted: the iat of a token issued on a node is that node's time
      for (const id of Object.keys(OFFSETS) as Id[]) {
        const { body } = await n(id).api.issue({ subject: 'clock-probe' });
        const shift = claimsOf(body.token).iat - Math.floor(Date.now() / 1000);
        assert.ok(Math.abs(shift - OFFSETS[id]) <= 2, `${id}: clock ${shift} s off, expected ${OFFSETS[id]}`);
      }
    });
    after(async () => cluster?.close());

    const logout = async (node: SidecarProcess, s: string) => {
      const out = await node.api.logout(s);
      assert.equal(out.status, 200, out.text);
      assert.deepEqual(out.body.notYetAcknowledgedBy, [], `every member acknowledges: ${out.text}`);
      assert.deepEqual([...out.body.acknowledgedBy].sort(), ['a', 'b', 'c', 'd']);
      return out.body as { gen: number; at: string };
    };
    const reasons = async (token: string) =>
      Promise.all(
        all().map(async (node) => {
          const v = await node.api.validate(token);
          return `${node.spec.nodeId}:${v.status === 200 ? 'valid' : v.body.reason}`;
        }),
      );
    const everywhere = (what: string) => all().map((node) => `${node.spec.nodeId}:${what}`);

    for (const [issuer, outNode] of [
      ['a', 'b'],
      ['b', 'a'],
      ['c', 'a'],
      ['a', 'c'],
    ] as Array<[Id, Id]>) {
      it(`a token issued on ${issuer} (${OFFSETS[issuer]} s) and logged out on ${outNode} (${OFFSETS[outNode]} s) is refused on every node at once`, async () => {
        const s = subject('logout');
        const issued = await n(issuer).api.issue({ subject: s });
        assert.equal(issued.status, 201, issued.text);
        assert.deepEqual(await reasons(issued.body.token), everywhere('valid'));
        await logout(n(outNode), s);
        assert.deepEqual(await reasons(issued.body.token), everywhere('revoked'));
      });

      it(`a login on ${issuer} (${OFFSETS[issuer]} s) right after a logout on ${outNode} (${OFFSETS[outNode]} s) is accepted on every node at once`, async () => {
        const s = subject('login');
        const old = await n(outNode).api.issue({ subject: s });
        await logout(n(outNode), s);
        const fresh = await n(issuer).api.issue({ subject: s });
        assert.equal(fresh.status, 201, fresh.text);
        assert.deepEqual(await reasons(fresh.body.token), everywhere('valid'));
        assert.deepEqual(await reasons(old.body.token), everywhere('revoked'));
      });
    }

    it('issues in flight on a and c while b logs out: every token answered before the logout was sent is refused, each racer gets one answer everywhere', async () => {
      const s = subject('race');
      const issued: Array<{ token: string; lgn: number; answeredAt: number }> = [];
      let racing = true;
      const issuers = (['a', 'c', 'd'] as Id[]).map(async (id) => {
        while (racing) {
          const res = await n(id).api.issue({ subject: s });
          assert.equal(res.status, 201, res.text);
          issued.push({ token: res.body.token, lgn: claimsOf(res.body.token).lgn, answeredAt: Date.now() });
        }
      });
      await sleep(30);
      const sentAt = Date.now();
      const { gen } = await logout(n('b'), s);
      const checkedAt = issued.length;
      for (const i of issued.slice(0, checkedAt).filter((x) => x.answeredAt < sentAt))
        assert.deepEqual(await reasons(i.token), everywhere('revoked'));
      racing = false;
      await Promise.all(issuers);
      let newer = 0;
      for (const i of issued) {
        const expect = i.lgn < gen ? 'revoked' : 'valid';
        if (expect === 'valid') newer++;
        // a racer's record may still be on its way to a node: that node asks the store, so the answer is final
        assert.deepEqual(await reasons(i.token), everywhere(expect), `lgn ${i.lgn} vs gen ${gen}`);
      }
      assert.ok(issued.length > newer, 'some tokens were issued before the logout');
    });

    it(`beyond the skew: a short token issued on b is expired on d (90 s ahead) but not on a (20 s ahead); a logout on d still ends b's tokens`, async () => {
      const s = subject('beyond');
      const short = await n('b').api.issue({ subject: s, ttl: '50s' });
      assert.equal(short.status, 201, short.text);
      assert.equal((await n('a').api.validate(short.body.token)).status, 200, 'within the skew: exp + skew is still ahead of a');
      const onD = await n('d').api.validate(short.body.token);
      assert.equal(onD.body.reason, 'expired', 'past exp + skew on a clock 90 s ahead: the skew setting covers only 30 s');
      const long = await n('b').api.issue({ subject: s });
      if (store === 'ZOOKEEPER')
        await logout(n('d'), s); // members are ephemeral nodes: no clock involved
      else {
        // DIRECTORY members are heartbeat files stamped with the writer's clock: to d, 90 s ahead, the others'
        // heartbeats look older than the liveness window (30 s + the skew), so it does not wait for them. The
        // logout itself does not depend on clocks: they refuse the token once they read the marker.
        const out = await n('d').api.logout(s);
        assert.equal(out.status, 200, out.text);
        assert.deepEqual(out.body.acknowledgedBy, ['d']);
        await waitFor(
          async () => (await reasons(long.body.token)).join() === everywhere('revoked').join(),
          'the marker reached every node',
          10_000,
        );
      }
      assert.deepEqual(await reasons(long.body.token), everywhere('revoked'));
      const after = await n('b').api.issue({ subject: s });
      assert.deepEqual(await reasons(after.body.token), everywhere('valid'));
    });

    if (store === 'ZOOKEEPER') {
      const cut = async () => {
        for (const p of cluster.proxies.get('c')!) p.cut();
        await waitFor(async () => (await n('c').api.get('/healthz')).body.store !== 'connected', 'c sees the store gone', 20_000);
      };
      const restore = async () => {
        for (const p of cluster.proxies.get('c')!) p.restore();
        await waitFor(
          async () => {
            const h = (await n('c').api.get('/healthz')).body;
            return h.journalPending === 0 && (h.store === 'connected' || h.store === 'reconnected');
          },
          'c replayed its journal',
          30_000,
          50,
        );
      };

      it('an issue c journaled while cut off, with a logout on a meanwhile: refused everywhere after the replay', async () => {
        const s = subject('journaled-issue');
        await cut();
        const journaled = await n('c').api.issue({ subject: s });
        assert.equal(journaled.status, 201, journaled.text);
        assert.equal(journaled.body.replicated, false);
        const out = await n('a').api.logout(s);
        assert.equal(out.status, 200, out.text);
        await restore();
        // c did not acknowledge that logout (cut off): it learns the marker as it resyncs
        await waitFor(async () => (await n('c').api.validate(journaled.body.token)).status === 401, 'c learned the marker', 10_000);
        assert.deepEqual(await reasons(journaled.body.token), everywhere('revoked'));
        const fresh = await n('c').api.issue({ subject: s });
        assert.deepEqual(await reasons(fresh.body.token), everywhere('valid'));
      });

      it('a logout c journaled while cut off: refused on c at once, everywhere after the replay; logins elsewhere in between are ended too', async () => {
        const s = subject('journaled-logout');
        const before = await n('a').api.issue({ subject: s });
        await waitFor(async () => (await n('c').api.validate(before.body.token)).status === 200, 'c knows the token');
        await cut();
        const out = await n('c').api.logout(s);
        assert.equal(out.status, 200, out.text);
        assert.equal(out.body.replicated, false);
        assert.equal((await n('c').api.validate(before.body.token)).body.reason, 'revoked', 'at once on the node that took it');
        assert.equal((await n('a').api.validate(before.body.token)).status, 200, 'a cannot know before the replay');
        const between = await n('b').api.issue({ subject: s }); // a login elsewhere before the replay
        await restore();
        // the replayed marker reaches the other nodes by the store's notification, a moment after c wrote it
        let seen: string[] = [];
        await waitFor(
          async () => (seen = await reasons(before.body.token)).every((r) => r.endsWith(':revoked')),
          'every node learned the replayed logout',
          10_000,
          50,
        ).catch((err) => assert.fail(`${(err as Error).message}: ${seen.join(' ')}`));
        assert.deepEqual(await reasons(before.body.token), everywhere('revoked'));
        assert.deepEqual(
          await reasons(between.body.token),
          everywhere('revoked'),
          'documented: a login made elsewhere before the replay ends too',
        );
        const fresh = await n('b').api.issue({ subject: s });
        assert.deepEqual(await reasons(fresh.body.token), everywhere('valid'));
      });
    }
  });
}
