import test from 'ava';
import { CronError, isValidCron, isValidTimeZone, nextRun, parseCron } from '../src/api/index.ts';

const iso = (d: Date | null) => d?.toISOString() ?? null;

// expression, after, zone, expected next run (UTC)
const runs: [string, string, string | undefined, string | null][] = [
  ['*/1 * * * *', '2024-01-01T00:00:30Z', undefined, '2024-01-01T00:01:00.000Z'],
  ['* * * * *', '2024-01-01T00:00:00Z', undefined, '2024-01-01T00:01:00.000Z'],
  ['*/15 * * * *', '2024-01-01T00:15:00Z', undefined, '2024-01-01T00:30:00.000Z'],
  ['0 * * * *', '2024-01-01T23:30:00Z', undefined, '2024-01-02T00:00:00.000Z'],
  ['0 0 * * *', '2024-01-01T00:00:00Z', undefined, '2024-01-02T00:00:00.000Z'],
  ['30 4 1 * *', '2024-01-31T12:00:00Z', undefined, '2024-02-01T04:30:00.000Z'],
  ['0 0 31 * *', '2024-02-01T00:00:00Z', undefined, '2024-03-31T00:00:00.000Z'],
  ['0 0 29 2 *', '2024-03-01T00:00:00Z', undefined, '2028-02-29T00:00:00.000Z'],
  ['0 0 30 2 *', '2024-03-01T00:00:00Z', undefined, null],
  ['0 9 * * 1-5', '2024-06-07T12:00:00Z', undefined, '2024-06-10T09:00:00.000Z'],
  ['0 9 * * mon-fri', '2024-06-08T12:00:00Z', undefined, '2024-06-10T09:00:00.000Z'],
  ['0 0 * jan,jul sun', '2024-01-08T00:00:00Z', undefined, '2024-01-14T00:00:00.000Z'],
  // day-of-month and day-of-week both restricted: either matches
  ['0 0 1,15 * 3', '2024-01-02T00:00:00Z', undefined, '2024-01-03T00:00:00.000Z'],
  ['0 0 1,15 * 3', '2024-01-11T00:00:00Z', undefined, '2024-01-15T00:00:00.000Z'],
  // a stepped day-of-month counts as restricted
  ['0 0 */10 * 0', '2024-01-02T00:00:00Z', undefined, '2024-01-07T00:00:00.000Z'],
  ['5/20 * * * *', '2024-01-01T00:26:00Z', undefined, '2024-01-01T00:45:00.000Z'],
  ['0 12 ? * *', '2024-01-01T13:00:00Z', undefined, '2024-01-02T12:00:00.000Z'],
  ['@hourly', '2024-01-01T00:59:59.999Z', undefined, '2024-01-01T01:00:00.000Z'],
  ['@daily', '2024-01-01T10:00:00Z', undefined, '2024-01-02T00:00:00.000Z'],
  ['@weekly', '2024-01-01T10:00:00Z', undefined, '2024-01-07T00:00:00.000Z'],
  ['@monthly', '2024-01-15T00:00:00Z', undefined, '2024-02-01T00:00:00.000Z'],
  ['@yearly', '2024-01-15T00:00:00Z', undefined, '2025-01-01T00:00:00.000Z'],
  ['@every 1h30m', '2024-03-01T00:00:00.500Z', undefined, '2024-03-01T01:30:00.000Z'],
  // time zones
  ['0 9 * * *', '2024-06-01T00:00:00Z', 'Europe/Paris', '2024-06-01T07:00:00.000Z'],
  ['0 9 * * *', '2024-01-01T00:00:00Z', 'Europe/Paris', '2024-01-01T08:00:00.000Z'],
  ['0 0 * * *', '2024-01-01T00:00:00Z', 'Asia/Kolkata', '2024-01-01T18:30:00.000Z'],
  ['0 9 * * 1', '2024-06-07T12:00:00Z', 'America/Los_Angeles', '2024-06-10T16:00:00.000Z'],
  // spring forward: 02:30 does not exist on 2024-03-10 in New York, so that day is skipped
  ['30 2 * * *', '2024-03-10T00:00:00Z', 'America/New_York', '2024-03-11T06:30:00.000Z'],
  ['0 3 * * *', '2024-03-10T00:00:00Z', 'America/New_York', '2024-03-10T07:00:00.000Z'],
  // fall back: 01:30 happens twice on 2024-11-03 and runs at each occurrence
  ['30 1 * * *', '2024-11-03T00:00:00Z', 'America/New_York', '2024-11-03T05:30:00.000Z'],
  ['30 1 * * *', '2024-11-03T05:30:00Z', 'America/New_York', '2024-11-03T06:30:00.000Z'],
  ['30 1 * * *', '2024-11-03T06:30:00Z', 'America/New_York', '2024-11-04T06:30:00.000Z'],
  ['TZ=Asia/Tokyo 0 0 * * *', '2024-01-01T00:00:00Z', undefined, '2024-01-01T15:00:00.000Z'],
];

for (const [expr, after, zone, want] of runs) {
  test(`nextRun ${expr} after ${after}${zone ? ` in ${zone}` : ''}`, (t) => {
    t.is(iso(nextRun(expr, new Date(after), zone)), want);
  });
}

test('a schedule can be parsed once and reused', (t) => {
  const s = parseCron('*/20 8-9 * * *');
  t.is(s.kind, 'fields');
  t.deepEqual(s.minutes.flatMap((on, m) => (on ? [m] : [])), [0, 20, 40]);
  t.deepEqual(s.hours.flatMap((on, h) => (on ? [h] : [])), [8, 9]);
  t.true(s.domStar && s.dowStar);
  let at = new Date('2024-01-01T00:00:00Z');
  const seen: string[] = [];
  for (let i = 0; i < 7; i++) {
    at = nextRun(s, at)!;
    seen.push(at.toISOString().slice(11, 16));
  }
  t.deepEqual(seen, ['08:00', '08:20', '08:40', '09:00', '09:20', '09:40', '08:00']);
});

const bad: [string, string][] = [
  ['', 'empty spec string'],
  ['* * *', 'expected exactly 5 fields, found 3: [* * *]'],
  ['* * * * * *', 'expected exactly 5 fields, found 6: [* * * * * *]'],
  ['60 * * * *', 'end of range (60) above maximum (59): 60'],
  ['* 24 * * *', 'end of range (24) above maximum (23): 24'],
  ['* * 0 * *', 'beginning of range (0) below minimum (1): 0'],
  ['* * * 13 *', 'end of range (13) above maximum (12): 13'],
  ['* * * * 7', 'end of range (7) above maximum (6): 7'],
  ['5-1 * * * *', 'beginning of range (5) beyond end of range (1): 5-1'],
  ['1-2-3 * * * *', 'too many hyphens: 1-2-3'],
  ['*/5/2 * * * *', 'too many slashes: */5/2'],
  ['*/0 * * * *', 'step of range should be a positive number: */0'],
  ['x * * * *', 'failed to parse int from x: invalid syntax'],
  ['* * * foo *', 'failed to parse int from foo: invalid syntax'],
  ['@fortnightly', 'unrecognized descriptor: @fortnightly'],
  ['@every soon', 'failed to parse duration soon: time: invalid duration "soon"'],
  ['TZ=Mars/Base * * * * *', 'provided bad location Mars/Base: unknown time zone Mars/Base'],
];

for (const [expr, message] of bad) {
  test(`invalid cron ${JSON.stringify(expr)}`, (t) => {
    const err = t.throws(() => parseCron(expr), { instanceOf: CronError });
    t.is(err!.message, message);
    t.false(isValidCron(expr));
  });
}

test('time zones', (t) => {
  t.true(isValidTimeZone('Europe/Paris'));
  t.true(isValidTimeZone('UTC'));
  t.false(isValidTimeZone('Local'));
  t.false(isValidTimeZone('Mars/Base'));
  t.false(isValidTimeZone(''));
  t.throws(() => nextRun('* * * * *', new Date(0), 'Mars/Base'), { instanceOf: CronError });
});
