/**
 * Prints how many storage tests ran on each dialect (suites are tagged
 * `[sqlite]` / `[postgres]` by forEachDialect), then one plain closing line
 * `tests: N passed, N failed, N skipped`.
 */
import type { Reporter, TestModule } from 'vitest/node';

export default class DialectReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const perDialect = new Map<string, { passed: number; failed: number }>();
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const mod of testModules) {
      for (const test of mod.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed += 1;
        else if (state === 'failed') failed += 1;
        else skipped += 1;
        const tag = /\[(sqlite|postgres)\]/.exec(test.fullName)?.[1];
        if (!tag || (state !== 'passed' && state !== 'failed')) continue;
        const entry = perDialect.get(tag) ?? { passed: 0, failed: 0 };
        entry[state] += 1;
        perDialect.set(tag, entry);
      }
    }
    const lines = ['', 'Storage tests by dialect:'];
    for (const name of ['sqlite', 'postgres']) {
      const e = perDialect.get(name);
      lines.push(`  ${name}: ${e ? `${e.passed} passed, ${e.failed} failed` : 'not run'}`);
    }
    lines.push(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`, '');
    process.stdout.write(lines.join('\n'));
  }
}
