// Reads and applies unified diffs (`diff -u`, `git diff`) without `patch` or `git`, which a machine installing
// tokensync may not have. Strict on purpose: no fuzz, every context line must match; a hunk may only move (as
// `patch` lets it), to the nearest place where all its lines match.

/**
 * A patch file: its header (the free text before the first `--- `, with `Key: value` fields) and its files.
 * @returns {{ header: string, fields: Record<string, string>, files: { path: string, hunks: Hunk[] }[] }}
 * @typedef {{ oldStart: number, newStart: number, oldLines: string[], newLines: string[] }} Hunk
 */
export function parsePatch(text) {
  const lines = text.split('\n');
  const first = lines.findIndex((line, i) => line.startsWith('--- ') && lines[i + 1]?.startsWith('+++ '));
  if (first === -1) throw new Error('no file in this patch (no "--- " and "+++ " lines)');
  const header = lines.slice(0, first).join('\n');
  const fields = {};
  for (const match of header.matchAll(/^([A-Z][\w-]*): (.+)$/gm)) fields[match[1]] ??= match[2].trim();
  const files = [];
  let i = first;
  while (i < lines.length) {
    if (!lines[i].startsWith('--- ')) {
      if (lines[i] === '') {
        i++;
        continue;
      }
      throw new Error(`line ${i + 1}: expected "--- " or "@@ ", found ${JSON.stringify(lines[i].slice(0, 40))}`);
    }
    const path = stripPrefix(lines[i + 1].slice(4));
    const file = { path, hunks: [] };
    files.push(file);
    i += 2;
    while (lines[i]?.startsWith('@@ ')) {
      const head = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/.exec(lines[i]);
      if (!head) throw new Error(`line ${i + 1}: malformed hunk header ${JSON.stringify(lines[i])}`);
      const [oldCount, newCount] = [Number(head[2] ?? 1), Number(head[4] ?? 1)];
      const hunk = { oldStart: Number(head[1]), newStart: Number(head[3]), oldLines: [], newLines: [] };
      i++;
      while (hunk.oldLines.length < oldCount || hunk.newLines.length < newCount) {
        const line = lines[i++];
        if (line === undefined) throw new Error(`${path}: a hunk ends early`);
        const [mark, body] = [line[0], line.slice(1)];
        if (mark === '\\') throw new Error(`${path}: "\\ No newline at end of file" is not supported`);
        if (mark === ' ' || mark === '-') hunk.oldLines.push(body);
        if (mark === ' ' || mark === '+') hunk.newLines.push(body);
        if (mark !== ' ' && mark !== '-' && mark !== '+') throw new Error(`${path}: unexpected line in a hunk ${JSON.stringify(line)}`);
      }
      file.hunks.push(hunk);
    }
  }
  return { header, fields, files };
}

/** `a/src/x.c` or `b/src/x.c` -> `src/x.c` (git and `diff --label` both write these prefixes). */
function stripPrefix(path) {
  const name = path.split('\t')[0];
  return name.replace(/^[ab]\//, '');
}

/**
 * The text with the hunks applied (`reverse`: un-applied), or `undefined` when one does not match exactly.
 * @param {string} text
 * @param {Hunk[]} hunks
 */
export function applyHunks(text, hunks, { reverse = false } = {}) {
  const lines = text.split('\n');
  let offset = 0;
  let floor = 0;
  for (const hunk of hunks) {
    const [from, to, start] = reverse ? [hunk.newLines, hunk.oldLines, hunk.newStart] : [hunk.oldLines, hunk.newLines, hunk.oldStart];
    const at = nearestMatch(lines, from, Math.max(start - 1 + offset, 0), floor);
    if (at === undefined) return undefined;
    lines.splice(at, from.length, ...to);
    offset += to.length - from.length;
    floor = at + to.length;
  }
  return lines.join('\n');
}

/** The index nearest `expected` (not before `floor`) where `block` matches line for line. */
function nearestMatch(lines, block, expected, floor) {
  const matches = (at) => at >= floor && at + block.length <= lines.length && block.every((line, k) => lines[at + k] === line);
  for (let distance = 0; distance <= lines.length; distance++) {
    if (matches(expected - distance)) return expected - distance;
    if (matches(expected + distance)) return expected + distance;
  }
  return undefined;
}
