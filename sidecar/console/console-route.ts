import { fileURLToPath } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CONSOLE_HEADERS, StaticFiles } from './static-files.js';

/** Where the build puts the browser console (console/ compiled by scripts/build-console.mjs), beside this file. */
export const CONSOLE_FILES = fileURLToPath(new URL('./ui/', import.meta.url));

/** The path the console is served under; `/console` alone is redirected to it. */
export const CONSOLE_PATH = '/console/';

/**
 * `GET /console/...`: the console's static files. Open like `/healthz`: they hold no data; every call the page
 * makes goes to the admin API, with the admin token when the sidecar has one.
 */
export function consoleHandler(root = CONSOLE_FILES): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const files = new StaticFiles(root);
  return async (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (!path.startsWith(CONSOLE_PATH)) {
      // a relative page needs its trailing slash to find its scripts
      res.writeHead(308, { ...CONSOLE_HEADERS, Location: CONSOLE_PATH, 'Content-Length': '0' }).end();
      return;
    }
    await files.serve(req, res, path.slice(CONSOLE_PATH.length));
  };
}
