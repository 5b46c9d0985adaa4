/**
 * Cron schedules as Kubernetes CronJobs read them (robfig/cron's standard
 * parser): five fields `minute hour day-of-month month day-of-week`, with
 * `*`, `?`, lists, ranges, steps and month/day names, plus the descriptors
 * `@yearly` (`@annually`), `@monthly`, `@weekly`, `@daily` (`@midnight`),
 * `@hourly` and `@every <duration>`.
 *
 * Day matching follows Vixie cron: when both day-of-month and day-of-week are
 * restricted, a day matches if either does; if one of them is `*`, only the
 * other counts.
 *
 * Time zones: `nextRun` works in the wall clock of an IANA zone (via Intl),
 * UTC when none is given. Across daylight-saving changes it behaves like the
 * Kubernetes controller: a wall time skipped by a jump forward does not run
 * that day, and a wall time repeated by a jump back runs at each occurrence.
 */

export class CronError extends Error {
  override readonly name = 'CronError';
}

interface FieldBounds {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: Readonly<Record<string, number>>;
}

const MONTH_NAMES: Record<string, number> = {
  jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12,
};
const DAY_NAMES: Record<string, number> = { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 };

const FIELDS: readonly FieldBounds[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTH_NAMES },
  { name: 'day of week', min: 0, max: 6, names: DAY_NAMES },
];

/** A parsed schedule. Field sets are indexed by value (minute 0..59, month 1..12, ...). */
export interface CronSchedule {
  readonly expression: string;
  /** `fields` for the five-field form, `every` for `@every <duration>`. */
  readonly kind: 'fields' | 'every';
  readonly minutes: readonly boolean[];
  readonly hours: readonly boolean[];
  readonly daysOfMonth: readonly boolean[];
  readonly months: readonly boolean[];
  readonly daysOfWeek: readonly boolean[];
  /** Day-of-month was `*` or `?` (unrestricted); see the day rule above. */
  readonly domStar: boolean;
  readonly dowStar: boolean;
  /** Interval of an `@every` schedule, in milliseconds (whole seconds). */
  readonly everyMs: number;
  /** Zone given in the expression with a `TZ=` or `CRON_TZ=` prefix. */
  readonly timeZone?: string;
}

const DESCRIPTORS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

/** Parses a schedule; throws CronError with robfig/cron's wording when invalid. */
export function parseCron(expression: string): CronSchedule {
  let spec = expression.trim();
  if (spec === '') throw new CronError('empty spec string');
  let timeZone: string | undefined;
  const tz = /^(?:CRON_)?TZ=(\S+)\s*/.exec(spec);
  if (tz) {
    timeZone = tz[1]!;
    if (!isValidTimeZone(timeZone)) throw new CronError(`provided bad location ${timeZone}: unknown time zone ${timeZone}`);
    spec = spec.slice(tz[0].length);
  }
  if (spec.startsWith('@')) {
    if (spec.startsWith('@every ')) {
      const ms = parseGoDuration(spec.slice('@every '.length).trim());
      const seconds = Math.max(1000, Math.floor(ms / 1000) * 1000); // at least a second, whole seconds
      return build(expression, 'every', undefined, seconds, timeZone);
    }
    const expanded = DESCRIPTORS[spec.toLowerCase()];
    if (!expanded) throw new CronError(`unrecognized descriptor: ${spec}`);
    spec = expanded;
  }
  const parts = spec.split(/\s+/);
  if (parts.length !== 5) {
    throw new CronError(`expected exactly 5 fields, found ${parts.length}: [${parts.join(' ')}]`);
  }
  return build(expression, 'fields', parts, 0, timeZone);
}

function build(
  expression: string,
  kind: 'fields' | 'every',
  parts: string[] | undefined,
  everyMs: number,
  timeZone: string | undefined,
): CronSchedule {
  const sets = FIELDS.map((f, i) => (parts ? parseField(parts[i]!, f) : { set: [], star: false }));
  return {
    expression,
    kind,
    minutes: sets[0]!.set,
    hours: sets[1]!.set,
    daysOfMonth: sets[2]!.set,
    months: sets[3]!.set,
    daysOfWeek: sets[4]!.set,
    domStar: sets[2]!.star,
    dowStar: sets[4]!.star,
    everyMs,
    ...(timeZone ? { timeZone } : {}),
  };
}

function parseField(field: string, bounds: FieldBounds): { set: boolean[]; star: boolean } {
  const set = new Array<boolean>(bounds.max + 1).fill(false);
  let star = false;
  for (const expr of field.split(',')) {
    const r = parseRange(expr, bounds);
    if (r.star) star = true;
    for (let v = r.start; v <= r.end; v += r.step) set[v] = true;
  }
  return { set, star };
}

function parseRange(expr: string, b: FieldBounds): { start: number; end: number; step: number; star: boolean } {
  const rangeAndStep = expr.split('/');
  const lowAndHigh = rangeAndStep[0]!.split('-');
  const singleDigit = lowAndHigh.length === 1;
  let start: number;
  let end: number;
  let star = false;
  if (lowAndHigh[0] === '*' || lowAndHigh[0] === '?') {
    start = b.min;
    end = b.max;
    star = true;
  } else {
    start = parseIntOrName(lowAndHigh[0]!, b.names);
    if (lowAndHigh.length === 1) end = start;
    else if (lowAndHigh.length === 2) end = parseIntOrName(lowAndHigh[1]!, b.names);
    else throw new CronError(`too many hyphens: ${expr}`);
  }
  let step = 1;
  if (rangeAndStep.length === 2) {
    step = mustParseInt(rangeAndStep[1]!);
    // `N/step` means `N-max/step`.
    if (singleDigit && !star) end = b.max;
    if (step > 1) star = false;
  } else if (rangeAndStep.length > 2) {
    throw new CronError(`too many slashes: ${expr}`);
  }
  if (start < b.min) throw new CronError(`beginning of range (${start}) below minimum (${b.min}): ${expr}`);
  if (end > b.max) throw new CronError(`end of range (${end}) above maximum (${b.max}): ${expr}`);
  if (start > end) throw new CronError(`beginning of range (${start}) beyond end of range (${end}): ${expr}`);
  if (step === 0) throw new CronError(`step of range should be a positive number: ${expr}`);
  return { start, end, step, star };
}

function parseIntOrName(expr: string, names: Readonly<Record<string, number>> | undefined): number {
  const named = names?.[expr.toLowerCase()];
  return named !== undefined ? named : mustParseInt(expr);
}

function mustParseInt(expr: string): number {
  if (!/^[+-]?[0-9]+$/.test(expr)) throw new CronError(`failed to parse int from ${expr}: invalid syntax`);
  const n = Number(expr);
  if (n < 0) throw new CronError(`negative number (${n}) not allowed: ${expr}`);
  return n;
}

/** Go's time.ParseDuration for h, m, s, ms, us/µs, ns units, e.g. `1h30m`, `90s`. */
function parseGoDuration(text: string): number {
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 1e-3, 'µs': 1e-3, ns: 1e-6 };
  const re = /([0-9]*\.?[0-9]+)(h|ms|m|s|us|µs|ns)/gy;
  let total = 0;
  let consumed = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    total += Number(m[1]) * units[m[2]!]!;
    consumed = re.lastIndex;
  }
  if (text === '' || consumed !== text.length) throw new CronError(`failed to parse duration ${text}: time: invalid duration "${text}"`);
  return total;
}

// ---- time zones ------------------------------------------------------------------

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** True when Intl knows the IANA zone (and it is not the ambiguous "Local"). */
export function isValidTimeZone(timeZone: string): boolean {
  if (!timeZone || timeZone.toLowerCase() === 'local') return false;
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** Offset of the zone from UTC at an instant, in ms (wall clock = instant + offset). */
function offsetAt(timeZone: string, instantMs: number): number {
  if (timeZone === 'UTC' || timeZone === 'Etc/UTC') return 0;
  const wholeSecond = Math.floor(instantMs / 1000) * 1000;
  const parts = formatter(timeZone).formatToParts(new Date(wholeSecond));
  const get = (type: string) => Number(parts.find((p) => p.type === type)!.value);
  const wall = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return wall - wholeSecond;
}

const MINUTE = 60_000;
const DAY = 86_400_000;
const WEEK = 7 * DAY;

/** The first instant in (from, to] whose offset differs from the offset at `from`, to the minute. */
function nextTransition(timeZone: string, from: number, to: number): number | undefined {
  if (timeZone === 'UTC' || timeZone === 'Etc/UTC') return undefined;
  const base = offsetAt(timeZone, from);
  let lo = from;
  for (let probe = Math.min(from + WEEK, to); ; probe = Math.min(probe + WEEK, to)) {
    if (offsetAt(timeZone, probe) !== base) {
      let hi = probe;
      // Invariant: offset(lo) === base, offset(hi) !== base.
      while (hi - lo > MINUTE) {
        const mid = lo + Math.max(1, Math.floor((hi - lo) / 2 / MINUTE)) * MINUTE;
        if (offsetAt(timeZone, mid) === base) lo = mid;
        else hi = mid;
      }
      return hi;
    }
    lo = probe;
    if (probe >= to) return undefined;
  }
}

// ---- next run --------------------------------------------------------------------

/** Searches at most this far ahead, like robfig/cron, then gives up. */
const HORIZON_YEARS = 5;

/**
 * The first time strictly after `after` at which the schedule fires, or null
 * when it never does within five years (e.g. `0 0 30 2 *`). `timeZone` (an
 * IANA name) wins over a `TZ=` prefix in the expression; UTC when neither.
 */
export function nextRun(schedule: string | CronSchedule, after: Date, timeZone?: string): Date | null {
  const s = typeof schedule === 'string' ? parseCron(schedule) : schedule;
  const afterMs = after.getTime();
  if (Number.isNaN(afterMs)) throw new CronError('invalid start time');
  if (s.kind === 'every') return new Date(Math.floor(afterMs / 1000) * 1000 + s.everyMs);
  const zone = timeZone ?? s.timeZone ?? 'UTC';
  if (!isValidTimeZone(zone)) throw new CronError(`unknown time zone ${zone}`);

  const horizon = afterMs + HORIZON_YEARS * 366 * DAY;
  // Schedules fire on whole minutes: start at the first minute boundary after `after`.
  let t = Math.floor(afterMs / MINUTE) * MINUTE + MINUTE;
  while (t <= horizon) {
    // Within a stretch of constant offset, wall clock and instants map one to one.
    const offset = offsetAt(zone, t);
    const wall = nextMatchingWall(s, t + offset, horizon + offset);
    if (wall === undefined) return null;
    const candidate = wall - offset;
    const transition = nextTransition(zone, t, candidate);
    if (transition === undefined) return new Date(candidate);
    t = transition; // the offset changed before the candidate: search again from the change
  }
  return null;
}

/** The first wall-clock minute at or after `wallMs` (wall clock encoded as UTC ms) that matches. */
function nextMatchingWall(s: CronSchedule, wallMs: number, limitMs: number): number | undefined {
  const d0 = new Date(wallMs);
  // Minute resolution; Date.UTC carries overflowing fields (minute 60, day 32, month 13).
  let t = Date.UTC(d0.getUTCFullYear(), d0.getUTCMonth(), d0.getUTCDate(), d0.getUTCHours(), d0.getUTCMinutes());
  for (;;) {
    if (t > limitMs) return undefined;
    const d = new Date(t);
    const y = d.getUTCFullYear();
    const mo = d.getUTCMonth() + 1;
    const day = d.getUTCDate();
    const h = d.getUTCHours();
    const mi = d.getUTCMinutes();
    if (!s.months[mo]) t = Date.UTC(y, mo, 1);
    else if (!dayMatches(s, y, mo, day)) t = Date.UTC(y, mo - 1, day + 1);
    else if (!s.hours[h]) t = Date.UTC(y, mo - 1, day, h + 1);
    else if (!s.minutes[mi]) t = Date.UTC(y, mo - 1, day, h, mi + 1);
    else return t;
  }
}

function dayMatches(s: CronSchedule, y: number, mo: number, day: number): boolean {
  const domMatch = s.daysOfMonth[day] === true;
  const dowMatch = s.daysOfWeek[new Date(Date.UTC(y, mo - 1, day)).getUTCDay()] === true;
  if (s.domStar || s.dowStar) return domMatch && dowMatch;
  return domMatch || dowMatch;
}

/** True when the expression parses. */
export function isValidCron(expression: string): boolean {
  try {
    parseCron(expression);
    return true;
  } catch {
    return false;
  }
}
