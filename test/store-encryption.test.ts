import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Level } from 'level';
import { encodeCommand, inflateSnapshot, LevelKV, ObjectStore, SecretCipher, SecretCipherError, type EncryptedData, type StoredObject } from '../src/store/index.ts';
import { testKindInfo } from '../src/store/testing.ts';

const NOW = '2025-03-01T10:00:00Z';
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

function tempDir(t: ExecutionContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-store-enc-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function secret(name: string, data: Record<string, string>, stringData?: Record<string, string>): StoredObject {
  const s: StoredObject = { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'prod', uid: `uid-${name}` }, type: 'Opaque', data };
  if (stringData) s.stringData = stringData;
  return s;
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

test('encrypt replaces data and stringData with an envelope; decrypt restores data (stringData merged as base64)', (t) => {
  const c = SecretCipher.fromKeys([randomBytes(32)]);
  const plain = secret('db', { user: b64('admin'), password: b64('old') }, { password: 'hunter2', token: 'abc' });
  const enc = c.encrypt(plain);
  t.false('data' in enc);
  t.false('stringData' in enc);
  const env = enc.encryptedData as EncryptedData;
  t.is(env.alg, 'aes-256-gcm');
  t.is(env.keyId, c.keyId);
  t.is(Buffer.from(env.iv, 'base64').length, 12);
  t.is(Buffer.from(env.tag, 'base64').length, 16);
  t.is(enc.type, 'Opaque');
  t.deepEqual(enc.metadata, plain.metadata);
  t.false(JSON.stringify(enc).includes('hunter2'));

  const dec = c.decrypt(enc);
  t.deepEqual(dec.data, { user: b64('admin'), password: b64('hunter2'), token: b64('abc') });
  t.false('encryptedData' in dec);
  t.false('stringData' in dec);

  const again = c.encrypt(plain).encryptedData as EncryptedData;
  t.not(again.iv, env.iv, 'a fresh IV for every write');
  t.not(again.ciphertext, env.ciphertext);
  t.is(c.encrypt(enc), enc, 'an object already encrypted is left as it is');
  const empty = c.decrypt(c.encrypt(secret('e', {})));
  t.deepEqual(empty.data, {});
});

test('the last-applied annotation (a copy of the manifest) travels inside the envelope', (t) => {
  const c = SecretCipher.fromKeys([randomBytes(32)]);
  const s = secret('db', { password: b64('hunter2') });
  s.metadata.annotations = { [LAST_APPLIED]: JSON.stringify({ data: { password: b64('hunter2') } }), keep: 'me' };
  const enc = c.encrypt(s);
  t.deepEqual(enc.metadata.annotations, { keep: 'me' });
  t.false(JSON.stringify(enc).includes(b64('hunter2')));
  t.deepEqual(c.decrypt(enc).metadata.annotations, s.metadata.annotations);
});

test('tampering, moving the envelope to another object, and unknown keys are refused clearly', (t) => {
  const c = SecretCipher.fromKeys([randomBytes(32)]);
  const enc = c.encrypt(secret('db', { password: b64('hunter2') }));
  const env = enc.encryptedData as EncryptedData;
  const flip = (s: string): string => {
    const b = Buffer.from(s, 'base64');
    b[0]! ^= 1;
    return b.toString('base64');
  };
  const tampered = [
    { ...enc, encryptedData: { ...env, ciphertext: flip(env.ciphertext) } },
    { ...enc, encryptedData: { ...env, tag: flip(env.tag) } },
    { ...enc, encryptedData: { ...env, iv: flip(env.iv) } },
    { ...enc, metadata: { ...enc.metadata, name: 'other' } },
    { ...enc, metadata: { ...enc.metadata, namespace: 'dev' } },
  ];
  for (const o of tampered) t.throws(() => c.decrypt(o), { instanceOf: SecretCipherError, message: /failed authentication: it was altered, or belongs to another object/ });
  t.throws(() => c.decrypt({ ...enc, encryptedData: { ...env, alg: 'rot13' } }), { message: /encryptedData is malformed/ });
  const other = SecretCipher.fromKeys([randomBytes(32)]);
  t.throws(() => other.decrypt(enc), { instanceOf: SecretCipherError, message: new RegExp(`encrypted with key ${env.keyId}, which is not loaded`) });
});

test('key rotation: the new key encrypts, old keys still decrypt', (t) => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  const before = SecretCipher.fromKeys([oldKey]).encrypt(secret('db', { p: b64('x') }));
  const rotated = SecretCipher.fromKeys([newKey, oldKey]);
  t.deepEqual(rotated.decrypt(before).data, { p: b64('x') });
  const after = rotated.encrypt(rotated.decrypt(before));
  t.is((after.encryptedData as EncryptedData).keyId, SecretCipher.keyIdOf(newKey));
  t.not(SecretCipher.keyIdOf(newKey), SecretCipher.keyIdOf(oldKey));
});

test('key files: generated with mode 0600, raw/base64/hex accepted, clear errors for missing and wrong size', (t) => {
  const dir = tempDir(t);
  const p = path.join(dir, 'secret.key');
  const gen = SecretCipher.generateKeyFile(p);
  t.is(fs.statSync(p).mode & 0o777, 0o600);
  t.is(Buffer.from(fs.readFileSync(p, 'utf8').trim(), 'base64').length, 32);
  t.throws(() => SecretCipher.generateKeyFile(p), { instanceOf: SecretCipherError, message: /already exists/ });
  const loaded = SecretCipher.fromKeyFile(p);
  t.is(loaded.keyId, gen.keyId);
  t.deepEqual(loaded.decrypt(gen.encrypt(secret('a', { k: b64('v') }))).data, { k: b64('v') });

  const key = randomBytes(32);
  const raw = path.join(dir, 'raw.key');
  const hex = path.join(dir, 'hex.key');
  fs.writeFileSync(raw, key);
  fs.writeFileSync(hex, key.toString('hex') + '\n');
  t.is(SecretCipher.fromKeyFile(raw).keyId, SecretCipher.keyIdOf(key));
  t.is(SecretCipher.fromKeyFile(hex).keyId, SecretCipher.keyIdOf(key));
  t.is(SecretCipher.fromKeyFile(p, raw).keyId, gen.keyId, 'the first file encrypts; later ones only decrypt');

  t.throws(() => SecretCipher.fromKeyFile(path.join(dir, 'nope.key')), { instanceOf: SecretCipherError, message: /nope\.key does not exist/ });
  const short = path.join(dir, 'short.key');
  fs.writeFileSync(short, randomBytes(16).toString('base64'));
  t.throws(() => SecretCipher.fromKeyFile(short), { message: /want a 32-byte key, raw or base64, got 24 bytes \(16 bytes after decoding\)/ });
  const junk = path.join(dir, 'junk.key');
  fs.writeFileSync(junk, 'not a key at all!');
  t.throws(() => SecretCipher.fromKeyFile(junk), { message: /that are not base64/ });
});

/** Every file under dir, recursively. */
function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? filesUnder(path.join(dir, d.name)) : [path.join(dir, d.name)]));
}

test('a Secret written through encrypt → command → applyEntries never reaches LevelDB in plaintext', async (t) => {
  const dir = tempDir(t);
  const dbDir = path.join(dir, 'db');
  const cipher = SecretCipher.generateKeyFile(path.join(dir, 'key'));
  const value = 'correct-horse-battery-staple-8d41f2';
  const control = 'plain-configmap-marker-77e0c3';
  const forms = (s: string): Buffer[] => [Buffer.from(s), Buffer.from(b64(s)), Buffer.from(Buffer.from(s).toString('hex'))];

  // No compression, so that any plaintext present would be visible to the scan.
  const db = new Level<Buffer, Buffer>(dbDir, { keyEncoding: 'buffer', valueEncoding: 'buffer', compression: false });
  await db.open();
  const store = await ObjectStore.open(new LevelKV(db, new Uint8Array([0x10])), { kindInfo: testKindInfo });

  const create = encodeCommand({ op: 'create', object: cipher.encrypt(secret('db', { password: b64(value) }, { token: value })), now: NOW });
  const update = encodeCommand({ op: 'update', object: cipher.encrypt(secret('db', { password: b64(value + '-v2') })), now: NOW });
  const cm = encodeCommand({ op: 'create', object: { kind: 'ConfigMap', metadata: { name: 'c', namespace: 'prod', uid: 'c' }, data: { marker: control } }, now: NOW });
  for (const entry of [create, update]) for (const f of forms(value)) t.is(Buffer.from(entry).indexOf(f), -1, 'the Raft entry holds no plaintext');
  const results = await store.applyEntries([
    { index: 1, data: create },
    { index: 2, data: update },
    { index: 3, data: cm },
  ]);
  t.true(results.every((r) => r.ok));
  const snap = await store.snapshot();
  // Snapshots are compressed: look in what they hold, not only at their bytes.
  const inside = Buffer.from(await inflateSnapshot(snap));
  t.true(inside.length > snap.length);
  for (const f of forms(value)) {
    t.is(Buffer.from(snap).indexOf(f), -1, 'the snapshot holds no plaintext');
    t.is(inside.indexOf(f), -1, 'the snapshot holds no plaintext');
  }
  await store.restore(snap, 3);

  // What the server hands a client: decrypted on the way out.
  const stored = store.get('Secret', 'prod', 'db')!;
  t.deepEqual(cipher.decrypt(stored).data, { password: b64(value + '-v2') });
  await store.close();
  await db.close();

  const files = filesUnder(dbDir);
  t.true(files.length > 0);
  let controlFound = false;
  for (const file of files) {
    const bytes = fs.readFileSync(file);
    for (const f of forms(value)) t.is(bytes.indexOf(f), -1, `${path.basename(file)} holds the secret value`);
    if (bytes.includes(Buffer.from(control))) controlFound = true;
  }
  t.true(controlFound, 'the scan does see plaintext when there is some (control: a ConfigMap value)');
});
