/** Display helpers: times in the viewer's locale, durations, JSON. */

export function dateTime(value: string | null): string {
  if (value === null) return '—';
  return new Date(value).toLocaleString(undefined, {
    dateStyle: 'medium',
    timeStyle: 'medium',
  });
}

/** "3 min ago", "in 20 s", for times near now; the full date otherwise. */
export function relative(value: string | null, now = Date.now()): string {
  if (value === null) return 'never';
  const diff = new Date(value).getTime() - now;
  const abs = Math.abs(diff);
  const units: [number, Intl.RelativeTimeFormatUnit][] = [
    [60_000, 'second'],
    [3_600_000, 'minute'],
    [86_400_000, 'hour'],
    [7 * 86_400_000, 'day'],
  ];
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  let size = 1000;
  for (const [limit, unit] of units) {
    if (abs < limit) return rtf.format(Math.round(diff / size), unit);
    size = limit;
  }
  return dateTime(value);
}

export function duration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

export function percent(rate: number | null): string {
  if (rate === null) return '—';
  const p = rate * 100;
  return `${p === 100 || p === 0 ? p.toFixed(0) : p.toFixed(1)}%`;
}

/** Pretty JSON when the text is JSON, the text itself otherwise. */
export function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

export function bytes(text: string): number {
  return new TextEncoder().encode(text).length;
}

/** ISO string → the value of an `<input type="datetime-local">` in local time. */
export function toLocalInput(isoValue: string | null): string {
  if (!isoValue) return '';
  const d = new Date(isoValue);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** `<input type="datetime-local">` value (local time) → ISO string, or null. */
export function fromLocalInput(value: string): string | null {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}
