import { test } from 'node:test';
import assert from 'node:assert/strict';
import { laterMarker, loggedOut, markerData, parseMarkerData } from './logout-marker.js';

test('marker data round-trips the generation; the time is informational', () => {
  assert.deepEqual(parseMarkerData(markerData('alice', 3, 1_700_000_000_000)), { gen: 3 });
});

test('a legacy {revokedBefore} marker counts as generation 1 and keeps its time', () => {
  assert.deepEqual(parseMarkerData('{"revokedBefore":1700000000000}'), { gen: 1, legacyBefore: 1_700_000_000_000 });
});

test('data that is not a marker parses to undefined', () => {
  for (const text of ['', 'null', '[]', '{"gen":-1}', '{"gen":1.5}', '{"gen":"2"}', '{"revokedBefore":"x"}', '{"gen":0}']) {
    assert.equal(parseMarkerData(text), undefined, text);
  }
});

test('a token is refused when its generation is below the marker, accepted at or above it', () => {
  const marker = { gen: 2 };
  assert.equal(loggedOut(marker, 1, 0, 0), true);
  assert.equal(loggedOut(marker, 2, 0, 0), false);
  assert.equal(loggedOut(marker, 7, 0, 0), false); // the issuing node knew a newer marker than this node: never refused for that
  assert.equal(loggedOut(undefined, 0, 0, 0), false);
});

test('a token without lgn is ordered by the generation in its record name', () => {
  assert.equal(loggedOut({ gen: 2 }, undefined, 1, 0), true);
  assert.equal(loggedOut({ gen: 2 }, undefined, 2, 0), false);
  assert.equal(loggedOut({ gen: 2 }, undefined, 0, Number.MAX_SAFE_INTEGER), true); // no legacy marker: no clock rule
});

test('the legacy rule applies to legacy tokens under a legacy marker only', () => {
  const legacy = { gen: 1, legacyBefore: 1000 };
  assert.equal(loggedOut(legacy, undefined, 0, 999), true);
  assert.equal(loggedOut(legacy, undefined, 0, 1000), false);
  assert.equal(loggedOut(legacy, 0, 0, 5000), true); // has lgn: the generation rule
  assert.equal(loggedOut(legacy, 1, 0, 0), false);
});

test('laterMarker keeps the higher generation and drops a legacy time the other does not share', () => {
  assert.deepEqual(laterMarker({ gen: 1, legacyBefore: 5 }, { gen: 2 }), { gen: 2 });
  assert.deepEqual(laterMarker({ gen: 1, legacyBefore: 5 }, { gen: 1 }), { gen: 1 });
  assert.deepEqual(laterMarker({ gen: 1, legacyBefore: 5 }, { gen: 1, legacyBefore: 9 }), { gen: 1, legacyBefore: 9 });
  assert.deepEqual(laterMarker(undefined, { gen: 3 }), { gen: 3 });
});
