export { Mirror, digestOf } from './mirror.js';
export type { MirrorOptions, MirrorStats, Presence } from './mirror.js';
