import test from 'ava';
import {
  Quantity,
  QuantityError,
  compareQuantities,
  parseQuantity,
  tryParseQuantity,
  type QuantityFormat,
} from '../src/api/index.ts';

// input, canonical form, milli value, whole value (rounded away from zero), format
const table: [string | number, string, bigint, bigint, QuantityFormat][] = [
  ['0', '0', 0n, 0n, 'DecimalSI'],
  ['500m', '500m', 500n, 1n, 'DecimalSI'],
  ['0.5', '500m', 500n, 1n, 'DecimalSI'],
  [0.5, '500m', 500n, 1n, 'DecimalSI'],
  [1, '1', 1000n, 1n, 'DecimalSI'],
  ['1.5', '1500m', 1500n, 2n, 'DecimalSI'],
  ['100m', '100m', 100n, 1n, 'DecimalSI'],
  ['1000m', '1', 1000n, 1n, 'DecimalSI'],
  ['1500', '1500', 1500000n, 1500n, 'DecimalSI'],
  ['12000', '12k', 12000000n, 12000n, 'DecimalSI'],
  ['1k', '1k', 1000000n, 1000n, 'DecimalSI'],
  ['1M', '1M', 1000000000n, 1000000n, 'DecimalSI'],
  ['2G', '2G', 2000000000000n, 2000000000n, 'DecimalSI'],
  ['1E', '1E', 10n ** 21n, 10n ** 18n, 'DecimalSI'],
  ['5u', '5u', 1n, 1n, 'DecimalSI'],
  ['7n', '7n', 1n, 1n, 'DecimalSI'],
  ['0.0000000001', '1n', 1n, 1n, 'DecimalSI'],
  ['128Mi', '128Mi', 134217728000n, 134217728n, 'BinarySI'],
  ['1Gi', '1Gi', 1073741824000n, 1073741824n, 'BinarySI'],
  ['1024Mi', '1Gi', 1073741824000n, 1073741824n, 'BinarySI'],
  ['1.5Gi', '1536Mi', 1610612736000n, 1610612736n, 'BinarySI'],
  ['0.5Ki', '512', 512000n, 512n, 'BinarySI'],
  ['1Ki', '1Ki', 1024000n, 1024n, 'BinarySI'],
  ['1.1Ki', '1126400m', 1126400n, 1127n, 'BinarySI'],
  ['2e3', '2e3', 2000000n, 2000n, 'DecimalExponent'],
  ['1.5e3', '1500', 1500000n, 1500n, 'DecimalExponent'],
  ['1E3', '1e3', 1000000n, 1000n, 'DecimalExponent'],
  ['5e-3', '5e-3', 5n, 1n, 'DecimalExponent'],
  ['+3', '3', 3000n, 3n, 'DecimalSI'],
  ['-1', '-1', -1000n, -1n, 'DecimalSI'],
  ['-0.5', '-500m', -500n, -1n, 'DecimalSI'],
  ['.5', '500m', 500n, 1n, 'DecimalSI'],
  ['1.', '1', 1000n, 1n, 'DecimalSI'],
  ['  250m ', '250m', 250n, 1n, 'DecimalSI'],
];

for (const [input, canonical, milli, whole, format] of table) {
  test(`quantity ${JSON.stringify(input)}`, (t) => {
    const q = parseQuantity(input);
    t.is(q.toString(), canonical);
    t.is(q.milliValue(), milli);
    t.is(q.value(), whole);
    t.is(q.format, format);
    // the canonical form parses back to the same value
    t.is(parseQuantity(canonical).cmp(q), 0);
  });
}

const invalid: [string, string][] = [
  ['12Q', "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"],
  ['', 'quantities must not be empty'],
  ['abc', "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"],
  ['1K', "unable to parse quantity's suffix"],
  ['1e', "unable to parse quantity's suffix"],
  ['1Mm', "unable to parse quantity's suffix"],
  ['1.5.5', "unable to parse quantity's suffix"],
  ['.', "unable to parse quantity's numeric value"],
  ['1 Gi', "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"],
];

for (const [input, message] of invalid) {
  test(`invalid quantity ${JSON.stringify(input)}`, (t) => {
    const err = t.throws(() => parseQuantity(input), { instanceOf: QuantityError });
    t.is(err!.message, message);
    t.is(tryParseQuantity(input), undefined);
  });
}

test('comparison across notations', (t) => {
  const cmp: [string, string, -1 | 0 | 1][] = [
    ['500m', '0.5', 0],
    ['1Gi', '1024Mi', 0],
    ['1G', '1Gi', -1],
    ['1Ki', '1k', 1],
    ['2e3', '2k', 0],
    ['999m', '1', -1],
    ['-1', '0', -1],
    ['1n', '0', 1],
    ['128974848', '129e6', -1],
    ['123Mi', '128974848', 0],
  ];
  for (const [a, b, want] of cmp) {
    t.is(compareQuantities(a, b), want, `${a} vs ${b}`);
    t.is(compareQuantities(b, a), want === 0 ? 0 : want === 1 ? -1 : 1, `${b} vs ${a}`);
  }
});

test('arithmetic is exact and keeps the notation', (t) => {
  t.is(parseQuantity('100m').add('200m').add('0.0001').toString(), '300100u');
  t.is(parseQuantity('0.1').add('0.2').toString(), '300m');
  t.is(parseQuantity('1Gi').add('512Mi').toString(), '1536Mi');
  t.is(parseQuantity('1Gi').sub('1Gi').toString(), '0');
  t.is(Quantity.zero().add('1Gi').toString(), '1Gi', 'zero takes the other format');
  t.is(parseQuantity('250m').mul(4).toString(), '1');
  t.is(parseQuantity('1').sub('1500m').toString(), '-500m');
  t.is(parseQuantity('64Mi').neg().toString(), '-64Mi');
});

test('toMilli, toBytes and constructors', (t) => {
  t.is(parseQuantity('250m').toMilli(), 250);
  t.is(parseQuantity('2').toMilli(), 2000);
  t.is(parseQuantity('1Mi').toBytes(), 1048576);
  t.is(parseQuantity('1.5').toBytes(), 2);
  t.is(parseQuantity('100Mi').toNumber(), 104857600);
  t.is(Quantity.fromMilli(1500).toString(), '1500m');
  t.is(Quantity.fromMilli(2000).toString(), '2');
  t.is(Quantity.fromInt(3 * 1024 * 1024, 'BinarySI').toString(), '3Mi');
  t.is(Quantity.fromInt(1000).toString(), '1k');
  t.is(JSON.stringify({ q: parseQuantity('0.25') }), '{"q":"250m"}');
  t.true(parseQuantity('1').equals('1000m'));
  t.is(parseQuantity('-2').sign(), -1);
  t.true(parseQuantity('0Gi').isZero());
});

test('tryParseQuantity answers the same the second time (results are kept), malformed texts included', (t) => {
  for (const text of ['250m', '1.5Gi', '1 Gi', '', '12e3']) {
    const first = tryParseQuantity(text);
    const again = tryParseQuantity(text);
    t.is(again?.toString(), first?.toString());
    t.is(again === undefined, first === undefined);
    if (first) t.is(first.toString(), parseQuantity(text).toString());
  }
  t.is(tryParseQuantity(0.5)?.toString(), '500m');
  t.is(tryParseQuantity({}), undefined);
});
