// Type-aware lint rules: floating promises and unsafe `any` flows are the bugs
// that slip past tsc in a queue-and-HTTP codebase like this one.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import js from '@eslint/js';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/*
 * Import boundaries: imports flow down these layers, never up.
 *
 * 1. Wiring (src/cli/): the commands and the composition roots they start:
 *    building the HTTP app (app.ts), registering job handlers
 *    (job-handlers.ts), the retention pass (retention.ts), the background
 *    roles (background.ts), start-up (runtime.ts). It may import anything;
 *    nothing below imports it.
 * 2. Features: what the help desk does, one folder each (tickets, contacts,
 *    users, orgs, api-keys, sla, surveys, webhooks, channels, inbound, mail,
 *    api-meta: every folder of src/ not named in 1 or 3). A feature may use
 *    another feature (a ticket has a contact and SLA timers) and anything in
 *    the layers below.
 * 3. Engine and infrastructure: the outbox (events/, the one door into the
 *    delivery engine), the delivery engine (delivery/), the job queue (jobs/),
 *    admin notices (notifications/: a store the engine writes when it
 *    disables a webhook, with its read routes), HTTP helpers (http/), the
 *    egress guard (egress/) and the dialects (db/); plus the shared modules
 *    at the top of src/ (clock, config, errors, ids, logger, metrics). They
 *    may use each other, never a feature or the wiring. The SMTP transport
 *    (mail/mailer.ts) is infrastructure too; the rest of mail/, the ticket
 *    email, is a feature.
 *
 * Inside layer 3, fan-out (delivery/queue/fanout.ts) is the outbox's alone:
 * features raise events through src/events/outbox.ts and never write
 * deliveries themselves.
 */
const INFRASTRUCTURE_DIRS = ['db', 'delivery', 'egress', 'events', 'http', 'jobs', 'notifications'];
// Every other folder under src/ is a feature, so a new folder starts on the
// restricted side until someone decides it is infrastructure.
const FEATURES = readdirSync(join(import.meta.dirname, 'src'), { withFileTypes: true })
  .filter((e) => e.isDirectory() && e.name !== 'cli' && !INFRASTRUCTURE_DIRS.includes(e.name))
  .map((e) => `./src/${e.name}`);
const INFRASTRUCTURE = INFRASTRUCTURE_DIRS.map((dir) => `./src/${dir}`).concat('./src/*.ts');
const UPWARD = 'Features depend on infrastructure, never the reverse: wire it in src/cli/.';
const boundaries = [
  {
    target: [...FEATURES, ...INFRASTRUCTURE],
    from: './src/cli',
    message: 'Only the CLI starts its wiring (src/cli/); nothing imports it back.',
  },
  {
    target: INFRASTRUCTURE,
    from: FEATURES.filter((dir) => dir !== './src/mail'),
    message: UPWARD,
  },
  { target: INFRASTRUCTURE, from: './src/mail', except: ['./mailer.ts'], message: UPWARD },
  {
    target: [...FEATURES, ...INFRASTRUCTURE.filter((dir) => dir !== './src/events')],
    from: './src/delivery/queue/fanout.ts',
    message:
      'Raise events through the outbox (src/events/outbox.ts), the one door into the engine.',
  },
];

export default tseslint.config(
  {
    ignores: ['dist/**', 'node_modules/**', 'data/**', 'coverage/**', 'packages/*/dist/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      // Fastify plugins and handlers are async by convention even when they await nothing.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name=/^(describe|it|test)$/][property.name='only']",
          message: 'No .only in tests.',
        },
      ],
    },
  },
  {
    files: ['src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      // Sources import './x.js' and mean './x.ts' (NodeNext): without the alias
      // nothing resolves, and the rule skips what it cannot resolve.
      'import-x/resolver-next': [createNodeResolver({ extensionAlias: { '.js': ['.ts', '.js'] } })],
    },
    rules: {
      'import-x/no-restricted-paths': [
        'error',
        { basePath: import.meta.dirname, zones: boundaries },
      ],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  { files: ['*.js'], ...tseslint.configs.disableTypeChecked },
  {
    // The examples are plain Node scripts a receiver copies: no project, Node's globals.
    files: ['examples/**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: {
        Buffer: 'readonly',
        console: 'readonly',
        process: 'readonly',
        setImmediate: 'readonly',
      },
    },
  },
);
