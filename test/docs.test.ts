/**
 * The repository explains itself: the README stays a first screen, every
 * link in the markdown resolves inside the repository (file and heading),
 * every docs path a source file names exists, and nothing points at a
 * contract file outside the repository. No database needed.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** "≤ 15 KB", counted strictly. */
const README_MAX_BYTES = 15_000;
/** Never walked: installed, built, generated or local-only. */
const SKIPPED_DIRS = new Set([
  'node_modules',
  'dist',
  '.git',
  'data',
  'coverage',
  'test-artifacts',
  'profiles',
]);
/** Built from pieces so that this file does not match itself. */
const FORBIDDEN = ['SPEC \u00a7', '..' + '/shared'];

function read(path: string): string {
  return readFileSync(path, 'utf8');
}

function walk(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (SKIPPED_DIRS.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path, out);
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

function rel(path: string): string {
  return relative(ROOT, path).split(sep).join('/');
}

function markdownFiles(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => join(ROOT, 'docs', name));
  return [join(ROOT, 'README.md'), join(ROOT, 'bench', 'README.md'), ...docs];
}

/** Markdown without fenced code blocks, whose contents are not links or headings. */
function withoutFences(text: string): string[] {
  const lines: string[] = [];
  let fence: string | null = null;
  for (const line of text.split('\n')) {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (marker && (fence === null || marker.startsWith(fence))) {
      fence = fence === null ? marker : null;
      lines.push('');
    } else {
      lines.push(fence === null ? line : '');
    }
  }
  return lines;
}

/** The text GitHub renders for a heading's source. */
function headingText(source: string): string {
  return source
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/`/g, '')
    .replace(/\*/g, '')
    .trim();
}

/** GitHub's anchor for a heading's text (github-slugger). */
function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');
}

function headingsOf(path: string): { texts: string[]; anchors: Set<string> } {
  const texts: string[] = [];
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of withoutFences(read(path))) {
    const match = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!match?.[1]) continue;
    const text = headingText(match[1]);
    texts.push(text);
    const base = slug(text);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return { texts, anchors };
}

/** Every link and image target of a markdown file, outside code. */
function linkTargets(path: string): string[] {
  const targets: string[] = [];
  for (const raw of withoutFences(read(path))) {
    const line = raw.replace(/`[^`]*`/g, '');
    for (const m of line.matchAll(
      /!?\[(?:[^[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)/g,
    )) {
      targets.push(m[1] ?? '');
    }
    const reference = /^\s*\[[^\]]+\]:\s*<?(\S+?)>?(\s|$)/.exec(line);
    if (reference?.[1]) targets.push(reference[1]);
  }
  return targets;
}

function isExternal(target: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//');
}

/** What is wrong with one relative link from `from`, or null. */
function brokenLink(from: string, target: string): string | null {
  const hash = target.indexOf('#');
  const pathPart = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
  const anchor = hash < 0 ? null : decodeURIComponent(target.slice(hash + 1));
  const file =
    pathPart === ''
      ? from
      : pathPart.startsWith('/')
        ? join(ROOT, pathPart)
        : resolve(dirname(from), pathPart);
  if (file !== ROOT && !file.startsWith(ROOT + sep)) return `${target}: outside the repository`;
  if (!existsSync(file)) return `${target}: no such file`;
  if (anchor === null || anchor === '') return null;
  if (!file.endsWith('.md') || !statSync(file).isFile())
    return `${target}: anchor on a non-markdown file`;
  if (!headingsOf(file).anchors.has(anchor)) return `${target}: no heading with that anchor`;
  return null;
}

function sourceFiles(): string[] {
  return ['src', 'test', 'bench', join('console', 'src')]
    .map((dir) => join(ROOT, dir))
    .filter((dir) => existsSync(dir))
    .flatMap((dir) => walk(dir))
    .filter((path) => /\.(ts|tsx|js|mjs|cjs)$/.test(path));
}

describe('docs', () => {
  it('keeps the README to a first screen and its first five minutes', () => {
    const readme = readFileSync(join(ROOT, 'README.md'));
    expect(readme.length, 'README.md in bytes').toBeLessThanOrEqual(README_MAX_BYTES);
    const text = readme.toString('utf8');
    // CI runs "the README's test command".
    expect(text).toContain('```sh\nnpm test\n```');
    expect(text).toContain('```sh\nnpm install\nnpm start\n```');
    expect(text).toContain('hookdesk listen');
  });

  it('has every relative markdown link resolve to a file and heading in the repository', () => {
    const broken: string[] = [];
    for (const path of markdownFiles()) {
      for (const target of linkTargets(path)) {
        if (target === '' || isExternal(target)) continue;
        const problem = brokenLink(path, target);
        if (problem) broken.push(`${rel(path)}: ${problem}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('has every docs path and section named in the sources exist', () => {
    const broken: string[] = [];
    const readmeHeadings = headingsOf(join(ROOT, 'README.md')).texts.map((t) => t.toLowerCase());
    let references = 0;
    for (const path of sourceFiles()) {
      const text = read(path);
      const refs =
        /(?<![\w/-])(?:\.\.\/)*(docs\/[\w./-]*\.(?:md|png))(?:#([\w-]+)|,\s*"([^"\n]+)")?/g;
      for (const m of text.matchAll(refs)) {
        references++;
        const [, file = '', anchor, section] = m;
        const full = join(ROOT, file);
        if (!existsSync(full)) {
          broken.push(`${rel(path)}: ${file} does not exist`);
        } else if (anchor && !headingsOf(full).anchors.has(anchor)) {
          broken.push(`${rel(path)}: ${file}#${anchor} names no heading`);
        } else if (
          section &&
          !headingsOf(full).texts.some((t) => t.toLowerCase() === section.toLowerCase())
        ) {
          broken.push(`${rel(path)}: ${file} has no section "${section}"`);
        }
      }
      // A section of the README named in a source must still be there.
      for (const m of text.matchAll(/README(?:\.md)?(?:'s)?,?\s+"([^"\n]+)"/g)) {
        const section = m[1] ?? '';
        if (!readmeHeadings.includes(section.toLowerCase())) {
          broken.push(`${rel(path)}: README.md has no section "${section}"`);
        }
      }
    }
    expect(broken).toEqual([]);
    expect(references, 'docs references found in the sources').toBeGreaterThan(0);
  });

  it('gives every package of package.json its reason in docs/architecture.md', () => {
    const pkg = JSON.parse(read(join(ROOT, 'package.json'))) as {
      dependencies?: Record<string, string>;
      devDependencies?: Record<string, string>;
    };
    const doc = read(join(ROOT, 'docs', 'architecture.md'));
    const table = doc.slice(doc.indexOf('## Dependencies and why'));
    const names = [
      ...Object.keys(pkg.dependencies ?? {}),
      ...Object.keys(pkg.devDependencies ?? {}),
    ];
    const missing = names.filter((name) =>
      name.startsWith('@types/') ? !table.includes('`@types/*`') : !table.includes(`\`${name}\``),
    );
    expect(missing).toEqual([]);
  });

  it('points nowhere outside the repository', () => {
    const offending: string[] = [];
    for (const path of walk(ROOT)) {
      const bytes = readFileSync(path);
      if (bytes.includes(0)) continue; // binary
      const text = bytes.toString('utf8');
      for (const needle of FORBIDDEN) {
        if (text.includes(needle)) offending.push(`${rel(path)}: ${needle}`);
      }
    }
    expect(offending).toEqual([]);
  });

  it('computes anchors as GitHub does', () => {
    expect(slug('Fairness between organizations and hosts')).toBe(
      'fairness-between-organizations-and-hosts',
    );
    expect(slug('`hookdesk listen`: a local receiver')).toBe('hookdesk-listen-a-local-receiver');
    expect(slug('Email & SMS (v2)')).toBe('email--sms-v2');
    expect(slug('snake_case stays')).toBe('snake_case-stays');
  });
});
