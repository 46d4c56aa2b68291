/** Attempts per hour by outcome: stacked SVG bars, with the same numbers as a table. */
import type { WebhookStats } from './api.js';
import { percent } from './format.js';

const SERIES = [
  { key: 'succeeded', label: 'Succeeded (2xx)', class: 'ok' },
  { key: 'httpError', label: 'Other HTTP status', class: 'warn' },
  { key: 'noResponse', label: 'No response (timeout, connect, TLS…)', class: 'bad' },
] as const;

function hourLabel(iso: string): string {
  return new Date(iso).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

export function AttemptsChart({ stats }: { stats: WebhookStats }) {
  const { buckets, totals } = stats;
  const height = 100;
  const slot = 10;
  const max = Math.max(1, ...buckets.map((b) => b.succeeded + b.httpError + b.noResponse));
  const summary =
    totals.attempts === 0
      ? `No attempts in the last ${stats.hours} hours.`
      : `${totals.attempts} attempts in the last ${stats.hours} hours: ${totals.succeeded} succeeded, ` +
        `${totals.httpError} got another HTTP status, ${totals.noResponse} got no response ` +
        `(success rate ${percent(totals.successRate)}).`;
  return (
    <figure class="chart">
      <figcaption>
        <strong>Attempts per hour by outcome</strong>, last {stats.hours} hours ·{' '}
        <span data-testid="success-rate">
          success rate {percent(totals.successRate)} of {totals.attempts}
        </span>
      </figcaption>
      <svg
        viewBox={`0 0 ${buckets.length * slot} ${height}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={summary}
      >
        <line x1="0" y1={height} x2={buckets.length * slot} y2={height} class="axis" />
        {buckets.map((b, i) => {
          let y = height;
          return (
            <g key={b.hour}>
              <title>
                {hourLabel(b.hour)}: {b.succeeded} succeeded, {b.httpError} HTTP errors,{' '}
                {b.noResponse} without response
              </title>
              {SERIES.map((s) => {
                const h = (b[s.key] / max) * (height - 4);
                y -= h;
                return h > 0 ? (
                  <rect
                    key={s.key}
                    class={s.class}
                    x={i * slot + 1}
                    y={y}
                    width={slot - 2}
                    height={h}
                  />
                ) : null;
              })}
            </g>
          );
        })}
      </svg>
      <div class="chart-axis muted small" aria-hidden="true">
        <span>{hourLabel(buckets[0]!.hour)}</span>
        <span>max {max} per hour</span>
        <span>now</span>
      </div>
      <ul class="legend">
        {SERIES.map((s) => (
          <li key={s.key}>
            <span class={`swatch ${s.class}`} aria-hidden="true" /> {s.label}: {totals[s.key]}
          </li>
        ))}
      </ul>
      <details>
        <summary>Show the numbers</summary>
        <table class="compact">
          <thead>
            <tr>
              <th scope="col">Hour</th>
              {SERIES.map((s) => (
                <th scope="col" key={s.key}>
                  {s.label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {buckets.map((b) => (
              <tr key={b.hour}>
                <th scope="row">{hourLabel(b.hour)}</th>
                {SERIES.map((s) => (
                  <td key={s.key}>{b[s.key]}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
