import test from 'ava';
import { Packr } from 'msgpackr';
import {
  decodeConfChange,
  decodeMessages,
  encodeConfChange,
  encodeMessages,
  MalformedMessageError,
} from '../src/raft/codec.ts';
import { MESSAGE_TYPES, type ConfChange, type Message } from '../src/raft/types.ts';

const raw = new Packr({ useRecords: false });
const bytes = (...xs: number[]): Uint8Array => new Uint8Array(xs);

/** One message of every type, with edge values (0, large safe integers, empty and binary data). */
function sampleMessages(from: number, to: number): Message[] {
  return [
    { type: 'vote', from, to, term: 5, lastIndex: 10, lastTerm: 4, transfer: false },
    { type: 'preVote', from, to, term: 6, lastIndex: 0, lastTerm: 0, transfer: true },
    { type: 'voteResp', from, to, term: 5, reject: false },
    { type: 'preVoteResp', from, to, term: 6, reject: true },
    {
      type: 'app', from, to, term: 7, index: 100, logTerm: 6, commit: 99,
      entries: [
        { term: 7, index: 101, type: 'normal', data: new Uint8Array(0) },
        { term: 7, index: 102, type: 'normal', data: bytes(0, 255, 1, 254, 0x80, 0xc1) },
        { term: 7, index: 103, type: 'conf', data: encodeConfChange({ type: 'addVoter', nodeId: 4 }) },
        { term: 2 ** 40, index: Number.MAX_SAFE_INTEGER, type: 'normal', data: new Uint8Array(70_000).fill(7) },
      ],
    },
    { type: 'app', from, to, term: 7, index: 103, logTerm: 7, commit: 103, entries: [] },
    { type: 'appResp', from, to, term: 7, reject: false, index: 103, hintIndex: 0, hintTerm: 0 },
    { type: 'appResp', from, to, term: 7, reject: true, index: 50, hintIndex: 40, hintTerm: 3 },
    { type: 'heartbeat', from, to, term: 7, commit: 103, ctx: new Uint8Array(0) },
    { type: 'heartbeat', from, to, term: 7, commit: 103, ctx: bytes(1, 2, 3) },
    { type: 'heartbeatResp', from, to, term: 7, ctx: bytes(9, 9) },
    {
      type: 'snap', from, to, term: 8,
      snapshot: { meta: { index: 500, term: 8, conf: { voters: [1, 2, 3], learners: [4] } }, data: bytes(1, 2, 3, 4) },
    },
    { type: 'timeoutNow', from, to, term: 8 },
    { type: 'readIndex', from, to, term: 0, ctx: bytes(42) },
    { type: 'readIndexResp', from, to, term: 8, index: 103, ctx: bytes(42) },
    { type: 'prop', from, to, term: 8, data: [bytes(1), new Uint8Array(0), bytes(7, 7, 7)] },
  ];
}

function isPlainUint8Array(x: unknown): boolean {
  return x instanceof Uint8Array && Object.getPrototypeOf(x) === Uint8Array.prototype;
}

test('every message type round-trips exactly', (t) => {
  const msgs = sampleMessages(1, 2);
  const decoded = decodeMessages(encodeMessages(msgs));
  t.deepEqual(decoded, msgs);
  const types = new Set(decoded.map((m) => m.type));
  t.is(types.size, MESSAGE_TYPES.length);
});

test('an empty batch round-trips', (t) => {
  t.deepEqual(decodeMessages(encodeMessages([])), []);
});

test('byte fields decode as plain Uint8Array that does not alias the input', (t) => {
  const msgs: Message[] = [
    {
      type: 'app', from: 1, to: 2, term: 1, index: 0, logTerm: 0, commit: 0,
      entries: [{ term: 1, index: 1, type: 'normal', data: Buffer.from('hello') }],
    },
    { type: 'heartbeat', from: 1, to: 2, term: 1, commit: 0, ctx: Buffer.from('ctx') },
  ];
  const wire = Buffer.from(encodeMessages(msgs));
  const decoded = decodeMessages(wire);
  const app = decoded[0]!;
  const hb = decoded[1]!;
  if (app.type !== 'app' || hb.type !== 'heartbeat') return t.fail('wrong types');
  t.true(isPlainUint8Array(app.entries[0]!.data));
  t.true(isPlainUint8Array(hb.ctx));
  t.deepEqual(app.entries[0]!.data, new Uint8Array(Buffer.from('hello')));
  wire.fill(0);
  t.deepEqual(app.entries[0]!.data, new Uint8Array(Buffer.from('hello')));
});

test('encode rejects an unknown message type or entry type', (t) => {
  const bad = { type: 'gossip', from: 1, to: 2, term: 1 } as unknown as Message;
  const err = t.throws(() => encodeMessages([sampleMessages(1, 2)[0]!, bad]), { instanceOf: MalformedMessageError });
  t.is(err?.message, 'messages[1].type: unknown message type "gossip"');
  const badEntry = {
    type: 'app', from: 1, to: 2, term: 1, index: 0, logTerm: 0, commit: 0,
    entries: [{ term: 1, index: 1, type: 'weird', data: new Uint8Array(0) }],
  } as unknown as Message;
  t.throws(() => encodeMessages([badEntry]), {
    instanceOf: MalformedMessageError,
    message: 'messages[0].entries[0].type: unknown entry type "weird"',
  });
});

/** Encode a hand-made tuple batch, bypassing encodeMessages. */
function wire(...msgs: unknown[]): Uint8Array {
  return raw.pack([1, ...msgs]);
}

const e = (term: unknown, index: unknown, type: unknown, data: unknown): unknown[] => [term, index, type, data];
const appTuple = (entries: unknown[]): unknown[] => [4, 1, 2, 7, 10, 7, 9, entries];

const invalid: Array<[string, Uint8Array, string]> = [
  ['garbage bytes', bytes(0xc1, 0xc1), 'payload: not valid msgpack'],
  ['empty input', new Uint8Array(0), 'payload: not valid msgpack'],
  ['truncated input', encodeMessages(sampleMessages(1, 2)).subarray(0, 100), 'payload: not valid msgpack'],
  ['trailing bytes', (() => {
    const b = encodeMessages([{ type: 'timeoutNow', from: 1, to: 2, term: 1 }]);
    const out = new Uint8Array(b.length + 1);
    out.set(b);
    return out;
  })(), 'payload: not valid msgpack'],
  ['not an array', raw.pack({ type: 'vote' }), 'payload: expected an array'],
  ['unknown version', raw.pack([2]), 'payload.version: unsupported format version 2'],
  ['message not an array', wire([9, 1, 2, 3], 'x'), 'messages[1]: expected an array'],
  ['unknown type code', wire([13, 1, 2, 3]), 'messages[0].type: unknown message type 13'],
  ['prop data not bytes', wire([12, 1, 2, 3, [new Uint8Array(1), 'x']]), 'messages[0].data[1]: expected bytes'],
  ['type as a string', wire(['vote', 1, 2, 3, 0, 0, false]), 'messages[0].type: unknown message type "vote"'],
  ['too few fields', wire([9, 1, 2]), "messages[0]: expected 4 fields for 'timeoutNow', got 3"],
  ['too many fields', wire([2, 1, 2, 3, false, 1]), "messages[0]: expected 5 fields for 'voteResp', got 6"],
  ['negative term', wire([9, 1, 2, -1]), 'messages[0].term: expected a non-negative integer'],
  ['fractional term', wire([9, 1, 2, 1.5]), 'messages[0].term: expected a non-negative integer'],
  ['unsafe term', wire([9, 1, 2, 2 ** 60]), 'messages[0].term: expected a non-negative integer'],
  ['term as a string', wire([9, 1, 2, '3']), 'messages[0].term: expected a non-negative integer'],
  ['from zero', wire([9, 0, 2, 1]), 'messages[0].from: expected a node id (a positive integer)'],
  ['to missing', wire([9, 1, null, 1]), 'messages[0].to: expected a node id (a positive integer)'],
  ['transfer not a boolean', wire([0, 1, 2, 3, 4, 5, 1]), 'messages[0].transfer: expected a boolean'],
  ['reject not a boolean', wire([5, 1, 2, 3, 'no', 1, 0, 0]), 'messages[0].reject: expected a boolean'],
  ['hintTerm negative', wire([5, 1, 2, 3, true, 1, 0, -3]), 'messages[0].hintTerm: expected a non-negative integer'],
  ['ctx not bytes', wire([6, 1, 2, 3, 4, 'abc']), 'messages[0].ctx: expected bytes'],
  ['ctx as array', wire([10, 1, 2, 3, [1, 2]]), 'messages[0].ctx: expected bytes'],
  ['entries not an array', wire(appTuple({} as unknown as unknown[])), 'messages[0].entries: expected an array'],
  ['entries of wrong arity', wire(appTuple([7, 11, 0])), 'messages[0].entries: expected 4 fields per entry'],
  [
    'bad entry term (4th message, 2nd entry)',
    wire([9, 1, 2, 1], [9, 1, 2, 1], [9, 1, 2, 1], appTuple([...e(7, 11, 0, bytes()), ...e(-1, 12, 0, bytes())])),
    'messages[3].entries[1].term: expected a non-negative integer',
  ],
  ['bad entry index', wire(appTuple(e(7, 'x', 0, bytes()))), 'messages[0].entries[0].index: expected a non-negative integer'],
  ['bad entry type', wire(appTuple(e(7, 11, 2, bytes()))), 'messages[0].entries[0].type: unknown entry type 2'],
  ['entry data as a string', wire(appTuple(e(7, 11, 0, 'data'))), 'messages[0].entries[0].data: expected bytes'],
  ['entry data missing', wire(appTuple(e(7, 11, 0, null))), 'messages[0].entries[0].data: expected bytes'],
  [
    'snapshot voter zero',
    wire([8, 1, 2, 3, 10, 3, [1, 0], [], bytes()]),
    'messages[0].snapshot.meta.conf.voters[1]: expected a node id (a positive integer)',
  ],
  [
    'snapshot learners not an array',
    wire([8, 1, 2, 3, 10, 3, [1], 4, bytes()]),
    'messages[0].snapshot.meta.conf.learners: expected an array of node ids',
  ],
  ['snapshot data missing', wire([8, 1, 2, 3, 10, 3, [1], [], null]), 'messages[0].snapshot.data: expected bytes'],
  ['snapshot index negative', wire([8, 1, 2, 3, -10, 3, [1], [], bytes()]), 'messages[0].snapshot.meta.index: expected a non-negative integer'],
];

for (const [name, buf, message] of invalid) {
  test(`decode rejects: ${name}`, (t) => {
    const err = t.throws(() => decodeMessages(buf), { instanceOf: MalformedMessageError });
    t.is(err?.name, 'MalformedMessageError');
    t.true(err!.message.startsWith(message), `got: ${err?.message}`);
    t.true(message.startsWith(err!.field), `field ${err?.field}`);
  });
}

test('decode rejects input that is not bytes', (t) => {
  t.throws(() => decodeMessages('abc' as unknown as Uint8Array), {
    instanceOf: MalformedMessageError,
    message: 'payload: expected bytes',
  });
});

test('conf changes round-trip, with and without context', (t) => {
  const ccs: ConfChange[] = [
    { type: 'addVoter', nodeId: 4 },
    { type: 'addLearner', nodeId: 5, context: new TextEncoder().encode('10.0.0.5:7001') },
    { type: 'removeNode', nodeId: 2, context: new Uint8Array(0) },
  ];
  for (const cc of ccs) {
    const decoded = decodeConfChange(encodeConfChange(cc));
    t.deepEqual(decoded, cc);
    if (decoded.context) t.true(isPlainUint8Array(decoded.context));
  }
  t.false('context' in decodeConfChange(encodeConfChange({ type: 'addVoter', nodeId: 4 })));
});

test('encodeConfChange refuses what could never be decoded', (t) => {
  t.throws(() => encodeConfChange({ type: 'promote', nodeId: 1 } as unknown as ConfChange), {
    instanceOf: MalformedMessageError,
    message: 'confChange.type: unknown conf change type "promote"',
  });
  t.throws(() => encodeConfChange({ type: 'addVoter', nodeId: 0 }), {
    instanceOf: MalformedMessageError,
    message: 'confChange.nodeId: expected a node id (a positive integer)',
  });
  t.throws(() => encodeConfChange({ type: 'addVoter', nodeId: 3, context: 'x' as unknown as Uint8Array }), {
    instanceOf: MalformedMessageError,
    message: 'confChange.context: expected bytes',
  });
});

test('decodeConfChange validates', (t) => {
  const cases: Array<[Uint8Array, string]> = [
    [bytes(0xdc, 0x00), 'confChange: not valid msgpack'],
    [raw.pack({ type: 'addVoter' }), 'confChange: expected an array'],
    [raw.pack([2, 'addVoter', 1]), 'confChange.version: unsupported format version 2'],
    [raw.pack([1, 'addVoter']), 'confChange: expected 3 or 4 fields, got 2'],
    [raw.pack([1, 'addWitness', 1]), 'confChange.type: unknown conf change type "addWitness"'],
    [raw.pack([1, 'addVoter', -1]), 'confChange.nodeId: expected a node id (a positive integer)'],
    [raw.pack([1, 'addVoter', 1, 'ctx']), 'confChange.context: expected bytes'],
  ];
  for (const [buf, message] of cases) {
    const err = t.throws(() => decodeConfChange(buf), { instanceOf: MalformedMessageError });
    t.true(err!.message.startsWith(message), `got: ${err?.message}`);
  }
});
