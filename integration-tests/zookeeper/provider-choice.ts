/**
 * Which ZooKeeper provider a test run uses: containers when a container runtime answers AND the image is present
 * (nothing is pulled: a machine without a registry would wait and fail on every file), local processes otherwise.
 *
 * Decided once per run and said in one line. `scripts/run-tests.mjs` gives every test file of a run the same
 * `TOKENSYNC_TEST_RUN_DIR`; the first file that needs ZooKeeper decides and writes the choice there, the others
 * read it. Without that variable (a file run by hand) each process decides for itself, once.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export type ZooKeeperProvider = 'local' | 'container';

export interface ProviderChoice {
  provider: ZooKeeperProvider;
  /** Set by an option or by TOKENSYNC_ZK_PROVIDER rather than detected. */
  forced: boolean;
  /** Why this provider, in words for the run's log. */
  reason: string;
}

export const PROVIDER_ENV = 'TOKENSYNC_ZK_PROVIDER';
export const RUN_DIR_ENV = 'TOKENSYNC_TEST_RUN_DIR';
export const DEFAULT_ZOOKEEPER_IMAGE = 'zookeeper:3.8.4';
const CHOICE_FILE = 'zookeeper-provider.json';
const RUNTIME_PROBE_TIMEOUT_MS = 3_000;

/** What a run decided, as stored for the run's other test files. */
interface StoredChoice extends ProviderChoice {
  image: string;
}

const decided = new Map<string, Promise<StoredChoice>>();

/**
 * An explicit provider (a test's own option: not announced), else the run's choice: `TOKENSYNC_ZK_PROVIDER`, or
 * detection.
 */
export async function chooseProvider(explicit?: ZooKeeperProvider, image = DEFAULT_ZOOKEEPER_IMAGE): Promise<ProviderChoice> {
  const fromEnv = process.env[PROVIDER_ENV];
  if (fromEnv !== undefined && fromEnv !== '' && fromEnv !== 'local' && fromEnv !== 'container') {
    throw new Error(`${PROVIDER_ENV} must be 'local' or 'container', got '${fromEnv}'`);
  }
  if (explicit) return { provider: explicit, forced: true, reason: 'asked for by the test' };
  let choice = decided.get(image);
  if (!choice) {
    choice = runChoice(image, fromEnv || undefined);
    decided.set(image, choice);
  }
  const { provider, forced, reason } = await choice;
  return { provider, forced, reason };
}

async function runChoice(image: string, forced: ZooKeeperProvider | undefined): Promise<StoredChoice> {
  const file = process.env[RUN_DIR_ENV] ? path.join(process.env[RUN_DIR_ENV], CHOICE_FILE) : undefined;
  const stored = file ? readStored(file) : undefined;
  if (stored && stored.image === image && (forced === undefined || stored.provider === forced)) return stored;

  const choice: StoredChoice = forced
    ? { provider: forced, forced: true, reason: `${PROVIDER_ENV}=${forced}`, image }
    : { ...(await detect(image)), forced: false, image };
  process.stderr.write(`ZooKeeper for this test run: ${describe(choice.provider)} (${choice.reason})\n`);
  if (file) {
    try {
      writeFileSync(file, JSON.stringify(choice), { flag: 'wx' });
    } catch {
      // Another file of the run wrote it first; both decided the same way on the same machine.
    }
  }
  return choice;
}

function describe(provider: ZooKeeperProvider): string {
  return provider === 'container' ? 'containers (ZooKeeperContainer)' : 'local processes (LocalZooKeeper)';
}

function readStored(file: string): StoredChoice | undefined {
  try {
    const value = JSON.parse(readFileSync(file, 'utf8')) as StoredChoice;
    return value.provider === 'local' || value.provider === 'container' ? value : undefined;
  } catch {
    return undefined;
  }
}

async function detect(image: string): Promise<{ provider: ZooKeeperProvider; reason: string }> {
  const runtime = await probeContainerRuntime();
  if (!runtime.reachable) return { provider: 'local', reason: runtime.reason };
  if (!(await imagePresent(image))) {
    return {
      provider: 'local',
      reason:
        `a container runtime answers at ${runtime.where}, but image ${image} is not there and none is pulled ` +
        `(docker pull ${image}, or bash docker/offline-base-images.sh where no registry is reachable)`,
    };
  }
  const ryuk = await ryukImage();
  return {
    provider: 'container',
    reason:
      `a container runtime answers at ${runtime.where} and image ${image} is there` +
      ((await imagePresent(ryuk)) ? '' : `; ${ryuk} is not, so Ryuk is off and every test removes its own containers`),
  };
}

let prepared: Promise<void> | undefined;

/**
 * Before the first container starts: testcontainers' Ryuk (which removes a crashed run's containers) is turned off
 * when its image is absent, since it would be pulled, and fail, on a machine without a registry.
 */
export function prepareTestcontainers(): Promise<void> {
  prepared ??= (async () => {
    if (process.env.TESTCONTAINERS_RYUK_DISABLED !== undefined) return;
    if (!(await imagePresent(await ryukImage()))) process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
  })();
  return prepared;
}

/**
 * testcontainers with this harness's defaults: ports are published on 127.0.0.1 only (see ZooKeeperContainer), so
 * that is the host to reach them on, also where testcontainers would take the machine for a container itself
 * (a /.dockerenv file) and use the bridge gateway's address.
 */
async function loadTestcontainers(): Promise<typeof import('testcontainers')> {
  process.env.TESTCONTAINERS_HOST_OVERRIDE ??= '127.0.0.1';
  try {
    return await import('testcontainers');
  } catch (error) {
    // The raw error is a TypeError deep in undici.
    const nodeMajor = Number(process.versions.node.split('.')[0]);
    const hint = nodeMajor < 22 ? ' (testcontainers 12 pulls in undici 8, which needs Node >= 22.19)' : '';
    throw new Error(`testcontainers failed to load on Node ${process.versions.node}${hint}: ${(error as Error).message}`, { cause: error });
  }
}

/** Loads testcontainers (see loadTestcontainers); its types stay out of this module's declarations, so the
 * published `tokensync/testing/zookeeper` type-checks without the optional testcontainers installed. */
export async function importTestcontainers(): Promise<void> {
  await loadTestcontainers();
}

/**
 * Uses testcontainers' own runtime detection (DOCKER_HOST, ~/.testcontainers.properties, the usual sockets,
 * Podman...). Loading testcontainers itself can fail (Node 20 with testcontainers 12), which also means "no".
 */
export async function probeContainerRuntime(
  timeoutMs = RUNTIME_PROBE_TIMEOUT_MS,
): Promise<{ reachable: boolean; reason: string; where: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const { getContainerRuntimeClient } = await loadTestcontainers();
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    const client = await Promise.race([getContainerRuntimeClient(), timeout]);
    const where = client.info.containerRuntime.remoteSocketPath || client.info.containerRuntime.host;
    return { reachable: true, reason: '', where };
  } catch (error) {
    return { reachable: false, reason: `no container runtime: ${(error as Error).message}`, where: '' };
  } finally {
    clearTimeout(timer);
  }
}

async function imagePresent(image: string): Promise<boolean> {
  const { getContainerRuntimeClient, ImageName } = await loadTestcontainers();
  const client = await getContainerRuntimeClient();
  return client.image.exists(ImageName.fromString(image));
}

/** The Ryuk image this testcontainers version starts (it honours RYUK_CONTAINER_IMAGE itself). */
async function ryukImage(): Promise<string> {
  const reaperModule = 'testcontainers/build/reaper/reaper.js';
  const reaper = (await import(reaperModule).catch(() => ({}))) as { REAPER_IMAGE?: string };
  return reaper.REAPER_IMAGE ?? process.env.RYUK_CONTAINER_IMAGE ?? 'testcontainers/ryuk:0.14.0';
}
