import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { forEachBounded, indices } from '../sidecar/util/for-each-bounded.js';
import { SidecarProcess, runCli, tempDir, writeProperties } from './support/sidecar-process.js';
import {
  FuzzGenerator,
  isAlive,
  readSigningSecret,
  rssKiB,
  sendFuzz,
  type FuzzMaterial,
  type FuzzOutcome,
  type FuzzRequest,
} from './support/fuzz.js';

/**
 * Random and malformed requests against a live sidecar (DIRECTORY store):
 * methods, paths (traversal, percent-garbage), headers, cookies and bodies,
 * with valid, tampered and forged tokens mixed in, through node:http and as
 * raw bytes. No answer may be a 5xx, the process must survive and stay
 * healthy, and its RSS after the run is compared with its RSS after a
 * warm-up.
 *
 *   CI size (default 5,000):  node scripts/run-tests.mjs fuzz
 *   full run:                 TOKENSYNC_FUZZ_REQUESTS=100000 node scripts/run-tests.mjs fuzz
 *   replay a run:             TOKENSYNC_FUZZ_SEED=<seed printed> ...
 */

const TOTAL = Number(process.env.TOKENSYNC_FUZZ_REQUESTS ?? 5000);
const SEED = Number(process.env.TOKENSYNC_FUZZ_SEED ?? randomInt(2 ** 31));
/** Requests before the first RSS reading: JIT, caches and pools settle first. */
const WARM_UP = Math.min(5000, Math.max(1000, Math.round(TOTAL / 5)));
const CONCURRENCY = 16;
/** Growth of RSS allowed between the end of the warm-up and the end of the run. */
const RSS_GROWTH_LIMIT_KIB = 96 * 1024;

let dir: string;
let sidecar: SidecarProcess;
let material: FuzzMaterial;

before(async () => {
  dir = await tempDir('tokensync-fuzz-');
  const base = { 'cluster.store.directory.path': join(dir, 'store'), 'authentication.token.secret.file': join(dir, 'token_secret') };
  const cli = await writeProperties(join(dir, 'cli.properties'), { ...base, 'app.data.dir': join(dir, 'appdata-cli') });
  const gen = await runCli(['secret', 'generate', '--config', cli]);
  assert.equal(gen.code, 0, gen.stderr);
  sidecar = await new SidecarProcess({
    nodeId: 'fuzz',
    dir,
    props: { ...base, 'app.data.dir': join(dir, 'appdata'), 'authentication.token.require.consistent.ip': true },
  }).start();
  const subjects = Array.from({ length: 10 }, (_, i) => `user-${i}`);
  const tokens: string[] = [];
  const jtis: string[] = [];
  for (const [i, subject] of subjects.entries()) {
    for (const body of [
      { subject },
      { subject, kind: 'api' },
      { subject, kind: 'onetime' },
      { subject, clientIp: i % 2 ? '203.0.113.7' : '::1' },
    ]) {
      const res = await sidecar.api.issue(body);
      assert.equal(res.status, 201, res.text);
      tokens.push(res.body.token);
      jtis.push(res.body.jti);
    }
  }
  material = {
    tokens,
    jtis,
    subjects: [...subjects, 'zoë', '__proto__'],
    secret: await readSigningSecret(join(dir, 'token_secret')),
    cookieName: 'tokensync',
  };
});

after(async () => {
  await sidecar?.stop();
});

interface RunStats {
  requests: number;
  ms: number;
  outcomes: Map<FuzzOutcome, number>;
  byKind: { http: number; raw: number };
  /** Up to 20 examples of outcomes that fail the run. */
  failures: Array<{ outcome: FuzzOutcome; req: string; body: string }>;
  /** A few examples of requests that got no HTTP answer, for the log. */
  unanswered: Map<FuzzOutcome, string[]>;
  timeouts: { http: number; raw: number };
}

async function run(generator: FuzzGenerator, count: number, onAnswer?: (done: number) => void): Promise<RunStats> {
  const stats: RunStats = {
    requests: 0,
    ms: 0,
    outcomes: new Map(),
    byKind: { http: 0, raw: 0 },
    failures: [],
    unanswered: new Map(),
    timeouts: { http: 0, raw: 0 },
  };
  const started = Date.now();
  await forEachBounded(indices(count), CONCURRENCY, async () => {
    const req: FuzzRequest = generator.next();
    const { outcome, body } = await sendFuzz(sidecar.port, req);
    stats.requests++;
    onAnswer?.(stats.requests);
    stats.byKind[req.kind]++;
    stats.outcomes.set(outcome, (stats.outcomes.get(outcome) ?? 0) + 1);
    if (outcome === 'timeout') stats.timeouts[req.kind]++;
    const failed = (typeof outcome === 'number' && outcome >= 500) || (outcome === 'timeout' && req.kind === 'http');
    if (failed && stats.failures.length < 20) stats.failures.push({ outcome, req: describe(req), body: body.slice(0, 300) });
    if (typeof outcome !== 'number') {
      const examples = stats.unanswered.get(outcome) ?? [];
      if (examples.length < 3) examples.push(`${req.kind}: ${describe(req).slice(0, 160)} (${body.slice(0, 80)})`);
      stats.unanswered.set(outcome, examples);
    }
  });
  stats.ms = Date.now() - started;
  return stats;
}

function describe(req: FuzzRequest): string {
  if (req.kind === 'raw') return `raw ${JSON.stringify(req.bytes.subarray(0, 300).toString('latin1'))}`;
  return `${req.method} ${req.path.slice(0, 200)} headers=${JSON.stringify(req.headers).slice(0, 300)} body=${JSON.stringify(req.body?.subarray(0, 200).toString('latin1') ?? '')}`;
}

function histogram(outcomes: Map<FuzzOutcome, number>): string {
  return [...outcomes.entries()]
    .sort(([a], [b]) => String(a).localeCompare(String(b)))
    .map(([k, n]) => `${k}: ${n}`)
    .join(', ');
}

test(
  `fuzz: ${TOTAL} random and malformed requests, no 5xx, no crash, no unbounded memory growth`,
  { timeout: Math.max(120_000, TOTAL * 10) },
  async () => {
    const pid = sidecar.pid!;
    const generator = new FuzzGenerator(SEED, material);
    console.log(
      `fuzz: seed ${SEED} (replay with TOKENSYNC_FUZZ_SEED=${SEED}), ${TOTAL} requests after a warm-up of ${WARM_UP}, ${CONCURRENCY} at a time`,
    );
    const rssStart = await rssKiB(pid);
    const warm = await run(generator, WARM_UP);
    const rssBefore = await rssKiB(pid);
    // RSS read after every tenth of the run, without pausing it: growth that goes on and on shows as a climbing series.
    const readings: Array<Promise<number>> = [];
    const main = await run(generator, TOTAL, (done) => {
      if (done % Math.max(1, Math.floor(TOTAL / 10)) === 0) readings.push(rssKiB(pid));
    });
    const series = await Promise.all(readings);
    const rssAfter = await rssKiB(pid);
    // Settle: a moment for idle sockets and pending writes, then one more reading.
    await new Promise((r) => setTimeout(r, 1000));
    const rssSettled = await rssKiB(pid);

    const rate = Math.round((main.requests / main.ms) * 1000);
    const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;
    console.log(`fuzz: warm-up ${warm.requests} requests in ${warm.ms} ms; statuses ${histogram(warm.outcomes)}`);
    console.log(
      `fuzz: ${main.requests} requests in ${(main.ms / 1000).toFixed(1)} s = ${rate} requests/s (${main.byKind.http} through node:http, ${main.byKind.raw} raw)`,
    );
    console.log(`fuzz: statuses ${histogram(main.outcomes)}`);
    console.log(`fuzz: timeouts http ${main.timeouts.http}, raw ${main.timeouts.raw}`);
    console.log(`fuzz: sidecar RSS after each tenth of the run: ${series.map((k) => (k / 1024).toFixed(1)).join(', ')} MiB`);
    console.log(
      `fuzz: sidecar RSS at start ${mib(rssStart)}, after warm-up ${mib(rssBefore)}, after the run ${mib(rssAfter)}, 1 s later ${mib(rssSettled)} (growth ${mib(rssSettled - rssBefore)}, limit ${mib(RSS_GROWTH_LIMIT_KIB)})`,
    );
    for (const [outcome, examples] of main.unanswered) for (const e of examples) console.log(`fuzz: e.g. ${outcome}: ${e}`);
    for (const f of [...warm.failures, ...main.failures]) console.log(`fuzz: FAILED ${f.outcome} for ${f.req}\n      answer ${f.body}`);

    const serverErrors = [...warm.outcomes, ...main.outcomes].filter(([o]) => typeof o === 'number' && o >= 500);
    assert.deepEqual(serverErrors, [], 'no 5xx');
    assert.equal(main.timeouts.http + warm.timeouts.http, 0, 'every well-formed request is answered');
    assert.equal(main.requests, TOTAL);
    assert.ok(isAlive(pid), 'the sidecar process is alive');
    assert.equal((await sidecar.api.get('/healthz')).status, 200);
    assert.equal((await sidecar.api.get('/readyz')).status, 200);
    // The tokens mixed in still behave: an api token nobody revoked still validates, a forged one does not.
    const stillThere = await sidecar.api.issue({ subject: 'after-fuzz', kind: 'api' });
    assert.equal(stillThere.status, 201);
    assert.equal((await sidecar.api.validate(stillThere.body.token)).status, 200);
    assert.ok(rssSettled - rssBefore < RSS_GROWTH_LIMIT_KIB, `RSS grew by ${mib(rssSettled - rssBefore)} over ${TOTAL} requests`);
    const unexpected = sidecar.logs.split('\n').filter((l) => /unexpected error/.test(l));
    assert.deepEqual(unexpected.slice(0, 5), [], 'the sidecar logged an unexpected error');
  },
);
