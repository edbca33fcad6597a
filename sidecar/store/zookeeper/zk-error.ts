/** ZooKeeper C client result codes this store acts on (`zookeeper.h`). */
export const ZkCode = {
  OK: 0,
  /** An op of a multi that was not tried because an earlier one failed. */
  RUNTIMEINCONSISTENCY: -2,
  CONNECTIONLOSS: -4,
  MARSHALLINGERROR: -5,
  UNIMPLEMENTED: -6,
  OPERATIONTIMEOUT: -7,
  BADARGUMENTS: -8,
  INVALIDSTATE: -9,
  NONODE: -101,
  NOAUTH: -102,
  BADVERSION: -103,
  NOCHILDRENFOREPHEMERALS: -108,
  NODEEXISTS: -110,
  NOTEMPTY: -111,
  SESSIONEXPIRED: -112,
  INVALIDACL: -114,
  AUTHFAILED: -115,
  CLOSING: -116,
  SESSIONMOVED: -118,
} as const;

/** Why a session's handle closed (the binding's `close` event, the C client's state), not a request's result. */
export const ZkClosedState = {
  /** Closed by us (`close()`). */
  CLOSED: 0,
  SESSION_EXPIRED: -112,
  /** The server refused the credentials added with `add_auth`. */
  AUTH_FAILED: -113,
} as const;

const NAMES = new Map<number, string>(Object.entries(ZkCode).map(([name, rc]) => [rc, name]));

/** Codes that mean "the ensemble could not be asked", not "the ensemble said no". */
const UNAVAILABLE = new Set<number>([
  ZkCode.CONNECTIONLOSS,
  ZkCode.OPERATIONTIMEOUT,
  ZkCode.INVALIDSTATE,
  ZkCode.SESSIONEXPIRED,
  ZkCode.CLOSING,
  ZkCode.SESSIONMOVED,
]);

/**
 * A ZooKeeper call that did not return OK. `rc` is the C client's code; the message names the operation
 * and the path, never data or credentials.
 */
export class ZkError extends Error {
  override readonly name = 'ZkError';
  constructor(
    readonly rc: number,
    readonly op: string,
    readonly path: string,
    detail?: string,
  ) {
    super(`${op} ${path}: ${rc} ${NAMES.get(rc) ?? 'UNKNOWN'}${detail ? ` (${detail})` : ''}`);
  }

  /** `NONODE`, `NODEEXISTS`, ... */
  get codeName(): string {
    return NAMES.get(this.rc) ?? `RC${this.rc}`;
  }

  /** True when the request may not have reached the ensemble: connection loss, timeout, closed session. */
  get isUnavailable(): boolean {
    return UNAVAILABLE.has(this.rc);
  }
}

export function isZkError(error: unknown, rc?: number): error is ZkError {
  return error instanceof ZkError && (rc === undefined || error.rc === rc);
}
