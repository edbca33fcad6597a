// Prints the digest of every record name under <chroot>/tokens, read by a fresh process with the raw binding:
//   node dist/integration-tests/support/tree-digest-main.js <connect> <chroot>
import { connectRaw, treeDigest } from './zk-tree.js';

const [connect, chroot] = process.argv.slice(2);
const client = await connectRaw(connect!);
try {
  process.stdout.write(JSON.stringify(await treeDigest(client, chroot ?? '')) + '\n');
} finally {
  client.close();
}
process.exit(0);
