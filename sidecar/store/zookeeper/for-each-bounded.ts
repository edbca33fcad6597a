// Kept so the ZooKeeper store files being split (issue 17) compile unchanged; new code imports sidecar/util.
export { forEachBounded } from '../../util/for-each-bounded.js';
