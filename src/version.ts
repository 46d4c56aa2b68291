import { readFileSync } from 'node:fs';

// Read at start-up from package.json so the User-Agent and OpenAPI version never drift from the release.
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

export const VERSION: string = pkg.version;
