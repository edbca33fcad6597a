import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { layout1Notice, upgradeCommand } from './record-layout.js';

test('upgradeCommand names the properties file, quoted so that a shell gives back the same path', () => {
  assert.equal(upgradeCommand(undefined), 'tokensync store upgrade');
  assert.equal(upgradeCommand('/etc/tokensync/node-1.properties'), 'tokensync store upgrade --config /etc/tokensync/node-1.properties');
  for (const path of ['/srv/my app/node.properties', "/srv/it's/node.properties", '/srv/$HOME/`x`;rm.properties']) {
    const line = upgradeCommand(path);
    const args = execFileSync('sh', ['-c', `printf '%s\\n' ${line.slice('tokensync '.length)}`], { encoding: 'utf8' });
    assert.deepEqual(args.trimEnd().split('\n'), ['store', 'upgrade', '--config', path], line);
  }
});

test('layout1Notice is one line ending in the command', () => {
  const line = layout1Notice('/t/meta', upgradeCommand('/a b/c.properties'));
  assert.doesNotMatch(line, /\n/);
  assert.match(line, /^\/t\/meta has layout 1 .*; convert it while running with: tokensync store upgrade --config '\/a b\/c\.properties'$/);
});
