/**
 * Connection to the cluster store, as Curator's ConnectionState:
 * - `connected`: first connection established;
 * - `suspended`: connection lost, the session may still be alive;
 * - `reconnected`: back after a suspension (or with a new session after `lost`);
 * - `lost`: the session is gone (expired, or suspended for longer than the session timeout).
 */
export type ConnectionState = 'latent' | 'connected' | 'suspended' | 'reconnected' | 'lost' | 'closed';

/** The store answers requests in these states. */
export function isConnected(state: ConnectionState): boolean {
  return state === 'connected' || state === 'reconnected';
}
