import { BadRequestError } from '../../errors/bad-request-error.js';
import { decodeSubject, isValidSubject } from '../token-record.js';
import { isGen, markerData, parseMarkerData, type LogoutMarker } from '../logout-marker.js';
import { forEachBounded } from '../../util/for-each-bounded.js';
import type { ZkLayout } from './layout.js';
import { createProtected } from './protected-create.js';
import { CreateMode, type ZkAcl } from './zk-client.js';
import { ZkCode, isZkError } from './zk-error.js';
import type { ZkSession } from './zk-session.js';
import { ZooKeeperStoreError } from './zookeeper-store-error.js';

const SET_MARKER_ATTEMPTS = 10;

export interface ZkMarkersOptions {
  session: ZkSession;
  layout: ZkLayout;
  acl: ZkAcl[] | undefined;
  readConcurrency: number;
}

/** Logout markers under `/subjects`: one node a subject, raised by compare-and-set, never deleted. */
export class ZkMarkers {
  constructor(private readonly options: ZkMarkersOptions) {}

  async raise(subject: string, floor = 0): Promise<number> {
    if (!isGen(floor)) throw new BadRequestError(`floor ${floor} is not a logout generation`);
    return this.ensure(subject, (stored) => Math.max(stored + 1, floor));
  }

  async copy(subject: string, gen: number): Promise<number> {
    if (!isGen(gen)) throw new BadRequestError(`${gen} is not a logout generation`);
    return this.ensure(subject, () => gen);
  }

  /**
   * One conditional write: `create` when absent, else a `set` with the version read (CAS). `required` is taken
   * from the first read; a lost race re-reads, and a generation already at `required` is done (it was written
   * after this call began, see TokenStore.raiseMarker).
   */
  private async ensure(subject: string, requiredFrom: (stored: number) => number): Promise<number> {
    if (!isValidSubject(subject)) throw new BadRequestError('subject is empty, too long or has control characters');
    const path = this.options.layout.markerPath(subject);
    const acl = this.options.acl;
    return this.options.session.run(async (client) => {
      let required: number | undefined;
      for (let attempt = 0; attempt < SET_MARKER_ATTEMPTS; attempt++) {
        let current: { stat: { version: number }; data: Buffer } | undefined;
        try {
          current = await client.get(path);
        } catch (error) {
          if (!isZkError(error, ZkCode.NONODE)) throw error;
        }
        const stored = current ? (parseMarkerData(current.data)?.gen ?? 0) : 0;
        required ??= requiredFrom(stored);
        if (stored >= required) return stored;
        const data = markerData(subject, required, Date.now());
        try {
          if (current) await client.set(path, data, current.stat.version);
          else await createProtected(client, acl, path, data, CreateMode.PERSISTENT);
          return required;
        } catch (error) {
          if (!isZkError(error, ZkCode.BADVERSION) && !isZkError(error, ZkCode.NODEEXISTS) && !isZkError(error, ZkCode.NONODE)) throw error;
        }
      }
      throw new ZooKeeperStoreError(`${path} kept changing; gave up after ${SET_MARKER_ATTEMPTS} attempts`);
    });
  }

  async list(): Promise<Map<string, LogoutMarker>> {
    const { layout, readConcurrency } = this.options;
    return this.options.session.run(async (client) => {
      const names = await client.getChildren(layout.subjects);
      const markers = new Map<string, LogoutMarker>();
      await forEachBounded(names, readConcurrency, async (encoded) => {
        const subject = decodeSubject(encoded);
        if (subject === undefined) return;
        try {
          const { data } = await client.get(`${layout.subjects}/${encoded}`);
          const marker = parseMarkerData(data);
          if (marker) markers.set(subject, marker);
        } catch (error) {
          if (!isZkError(error, ZkCode.NONODE)) throw error;
        }
      });
      return markers;
    });
  }
}
