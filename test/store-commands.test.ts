import test from 'ava';
import { Packr } from 'msgpackr';
import { decodeCommand, encodeCommand, MalformedCommandError, type Command } from '../src/store/index.ts';
import { decodeMsgpack, MsgpackDecodeError } from '../src/store/decode.ts';

const packr = new Packr({ useRecords: false });
const NOW = '2025-03-01T10:00:00Z';
const obj = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'web', namespace: 'default', uid: 'u1' }, data: { a: 'b' } };

test('every command round-trips through encode/decode', (t) => {
  const cmds: Command[] = [
    { op: 'create', object: obj, now: NOW },
    { op: 'update', object: obj, precondition: { resourceVersion: '7', uid: 'u1' }, now: NOW },
    { op: 'updateStatus', object: { ...obj, status: { phase: 'Running' } }, now: NOW },
    { op: 'updateStatus', object: { ...obj, status: { phase: 'Running' } }, now: NOW, reporter: 'node-1' },
    { op: 'delete', kind: 'Pod', namespace: 'default', name: 'p', gracePeriodSeconds: 0, precondition: { uid: 'u' }, now: NOW },
    { op: 'delete', kind: 'Node', name: 'n1', now: NOW },
    { op: 'batch', commands: [{ op: 'create', object: obj, now: NOW }, { op: 'noop' }] },
    { op: 'noop' },
  ];
  for (const c of cmds) t.deepEqual(decodeCommand(encodeCommand(c)), c);
});

test('decode says what is wrong with a malformed command', (t) => {
  const bad = (v: unknown, message: RegExp | string): void => {
    const err = t.throws(() => decodeCommand(packr.pack(v)), { instanceOf: MalformedCommandError });
    if (typeof message === 'string') t.is(err?.message, message);
    else t.regex(err?.message ?? '', message);
  };
  bad([1, 2], 'command: must be an object, got an array');
  bad({ op: 'zap' }, 'command.op: unknown op "zap" (want create, update, updateStatus, delete, bind, batch or noop)');
  bad({ op: 'create', object: obj }, 'command.now: must be a string, got undefined');
  bad({ op: 'create', object: { ...obj, kind: 3 }, now: NOW }, 'command.object.kind: must be a string, got a number');
  bad({ op: 'create', object: { ...obj, metadata: { name: 5 } }, now: NOW }, 'command.object.metadata.name: must be a string, got a number');
  bad({ op: 'create', object: { ...obj, spec: [] }, now: NOW }, 'command.object.spec: must be an object, got an array');
  bad({ op: 'update', object: obj, precondition: { resourceVersion: 7 }, now: NOW }, 'command.precondition.resourceVersion: must be a string, got a number');
  bad({ op: 'updateStatus', object: obj, now: NOW, reporter: 5 }, 'command.reporter: must be a string, got a number');
  bad({ op: 'delete', kind: 'Pod', name: 'p', gracePeriodSeconds: -1, now: NOW }, /gracePeriodSeconds: must be a non-negative integer/);
  bad({ op: 'batch', commands: [{ op: 'batch', commands: [] }] }, 'command.commands[0].op: a batch cannot contain a batch');
  bad({ op: 'batch', commands: [{ op: 'create', now: NOW }] }, 'command.commands[0].object: must be an object, got undefined');
  t.throws(() => decodeCommand(new Uint8Array([0x92, 0x01, 0xa5, 0x61])), { instanceOf: MalformedCommandError, message: /not valid msgpack: .*truncated/ });
  t.throws(() => encodeCommand({ op: 'create', now: NOW } as unknown as Command), { instanceOf: MalformedCommandError });
});

test('the decoder reads what msgpackr writes for JSON-shaped values', (t) => {
  const values: unknown[] = [
    null,
    true,
    false,
    0,
    127,
    128,
    255,
    256,
    65535,
    65536,
    2 ** 32,
    2 ** 53 - 1,
    -1,
    -32,
    -33,
    -129,
    -32769,
    -(2 ** 31) - 1,
    -(2 ** 53) + 1,
    1.5,
    -0.25,
    1e300,
    '',
    'a',
    'x'.repeat(31),
    'x'.repeat(32),
    'x'.repeat(300),
    'y'.repeat(70000),
    'héllo wörld ✓ 🚀',
    [],
    [1, [2, [3]]],
    Array.from({ length: 20 }, (_, i) => i),
    Array.from({ length: 70000 }, (_, i) => i % 3),
    {},
    { a: 1, b: { c: [1, 'two', null] } },
    Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, i])),
    { u: undefined, v: 1 },
  ];
  for (const v of values) t.deepEqual(decodeMsgpack(packr.pack(v)), v, JSON.stringify(v)?.slice(0, 40));
  t.deepEqual(decodeMsgpack(packr.pack(new Uint8Array([1, 2, 3]))), new Uint8Array([1, 2, 3]));
  t.is(decodeMsgpack(packr.pack(new Date('2025-03-01T10:00:00.250Z'))), '2025-03-01T10:00:00.250Z');
});

test('the decoder keeps key order, builds repeated shapes the same way, and never sets a prototype', (t) => {
  for (let i = 0; i < 20; i++) {
    const v = decodeMsgpack(packr.pack({ z: i, a: 'x', m: { q: [i] } })) as Record<string, unknown>;
    t.deepEqual(Object.keys(v), ['z', 'a', 'm']);
    t.deepEqual(v, { z: i, a: 'x', m: { q: [i] } });
  }
  // {"__proto__": {"polluted": true}} written by hand: must stay an own property.
  const evil = Buffer.concat([Buffer.from([0x81, 0xa9]), Buffer.from('__proto__'), Buffer.from([0x81, 0xa8]), Buffer.from('polluted'), Buffer.from([0xc3])]);
  for (let i = 0; i < 6; i++) {
    const v = decodeMsgpack(evil) as Record<string, unknown>;
    t.is(Object.getPrototypeOf(v), Object.prototype);
    t.deepEqual(Object.keys(v), ['__proto__']);
    t.is((v as { polluted?: unknown }).polluted, undefined);
  }
  t.is(({} as { polluted?: unknown }).polluted, undefined);
  // Repeated keys: the last value wins, as in JSON.parse.
  const dup = Buffer.from([0x82, 0xa1, 0x61, 0x01, 0xa1, 0x61, 0x02]);
  for (let i = 0; i < 6; i++) t.deepEqual(decodeMsgpack(dup), { a: 2 });
});

test('the decoder refuses truncated, trailing, oversized and too deeply nested input', (t) => {
  const err = (b: number[] | Buffer, re: RegExp): void => {
    t.throws(() => decodeMsgpack(new Uint8Array(b)), { instanceOf: MsgpackDecodeError, message: re });
  };
  err([0xa5, 0x61], /truncated/);
  err([0x01, 0x02], /1 trailing bytes/);
  err([0xdd, 0xff, 0xff, 0xff, 0xff], /exceeds the input/);
  err([0x81, 0x01, 0x02], /map key is not a string/);
  err([0xc1], /invalid type byte 0xc1/);
  err([0xd4, 0x05, 0x00], /unsupported ext type 5/);
  err(Buffer.alloc(1000, 0x91), /nesting deeper than 200/);
});
