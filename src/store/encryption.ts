/**
 * Encryption at rest for Secrets.
 *
 * The server encrypts a Secret BEFORE proposing it, so no secret value reaches the Raft
 * log, a snapshot or LevelDB in plaintext; it decrypts on the way out to clients. The
 * store itself never sees a key.
 *
 * `encrypt` merges `stringData` into `data` (base64, as Kubernetes does) and replaces both
 * with one envelope, `encryptedData`, AES-256-GCM with a random 12-byte IV per write and
 * the object's kind/namespace/name as additional authenticated data: a ciphertext moved to
 * another object, or altered in any bit, fails to decrypt. The envelope names its key by
 * id (a hash of the key), so after a key rotation old objects still decrypt with the old
 * key while new writes use the new one.
 *
 * kubectl's last-applied-configuration annotation holds a copy of the whole manifest,
 * data included; it is moved inside the envelope too.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type { StoredObject } from './types.ts';

export const ENCRYPTION_ALG = 'aes-256-gcm';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** The envelope stored in place of `data`/`stringData`. Binary fields are base64. */
export interface EncryptedData {
  alg: typeof ENCRYPTION_ALG;
  keyId: string;
  iv: string;
  tag: string;
  ciphertext: string;
}

/** A key that cannot be loaded, or a Secret that cannot be encrypted or decrypted. */
export class SecretCipherError extends Error {
  override name = 'SecretCipherError';
}

/** What goes inside the envelope. */
interface Payload {
  data: Record<string, string>;
  lastApplied?: string;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describeObject(o: StoredObject): string {
  const ns = o.metadata?.namespace;
  return `${o.kind} ${ns ? `${ns}/` : ''}${o.metadata?.name}`;
}

/** Binds a ciphertext to one object: kind, namespace, name. */
function aad(o: StoredObject): Buffer {
  return Buffer.from(`berth/secret\u0000${o.kind}\u0000${o.metadata.namespace ?? ''}\u0000${o.metadata.name}`, 'utf8');
}

/** Parse a key file's bytes: exactly 32 raw bytes, or base64 (or hex) text of 32 bytes. */
function parseKey(buf: Buffer, path: string): Buffer {
  if (buf.length === KEY_BYTES) return buf;
  const text = buf.toString('utf8').trim();
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(text)) key = Buffer.from(text, 'hex');
  else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) key = Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64');
  if (key?.length === KEY_BYTES) return key;
  throw new SecretCipherError(
    `secret encryption key file ${path}: want a ${KEY_BYTES}-byte key, raw or base64, got ${buf.length} bytes` +
      (key ? ` (${key.length} bytes after decoding)` : ' that are not base64'),
  );
}

export class SecretCipher {
  private readonly keys: Map<string, Buffer>;
  /** The id of the key new writes use. */
  readonly keyId: string;

  /** `keys[0]` encrypts; every key decrypts what it encrypted. */
  private constructor(keys: Buffer[]) {
    if (keys.length === 0) throw new SecretCipherError('secret encryption: no key given');
    this.keys = new Map();
    for (const k of keys) {
      if (k.length !== KEY_BYTES) throw new SecretCipherError(`secret encryption: a key must be ${KEY_BYTES} bytes, got ${k.length}`);
      this.keys.set(SecretCipher.keyIdOf(k), Buffer.from(k));
    }
    this.keyId = SecretCipher.keyIdOf(keys[0]!);
  }

  /** A key's id: the first 8 bytes of its SHA-256, in hex. Reveals nothing useful about the key. */
  static keyIdOf(key: Uint8Array): string {
    return createHash('sha256').update(key).digest('hex').slice(0, 16);
  }

  /** From raw keys; the first encrypts. */
  static fromKeys(keys: Uint8Array[]): SecretCipher {
    return new SecretCipher(keys.map((k) => Buffer.from(k)));
  }

  /**
   * From key files (32 raw bytes, or their base64): the first encrypts new writes; older
   * keys listed after it still decrypt. Clear errors for a missing file or a wrong size.
   */
  static fromKeyFile(path: string, ...olderKeyFiles: string[]): SecretCipher {
    const keys = [path, ...olderKeyFiles].map((p) => {
      let buf: Buffer;
      try {
        buf = fs.readFileSync(p);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') throw new SecretCipherError(`secret encryption key file ${p} does not exist (create one with SecretCipher.generateKeyFile)`);
        throw new SecretCipherError(`secret encryption key file ${p} cannot be read: ${(err as Error).message}`);
      }
      return parseKey(buf, p);
    });
    return new SecretCipher(keys);
  }

  /** Write a new random key (base64) to `path`, readable by the owner only; refuses to overwrite a file. */
  static generateKeyFile(path: string): SecretCipher {
    const key = randomBytes(KEY_BYTES);
    try {
      fs.writeFileSync(path, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw new SecretCipherError(`secret encryption key file ${path} already exists; not overwriting it`);
      throw new SecretCipherError(`secret encryption key file ${path} cannot be written: ${(err as Error).message}`);
    }
    // The mode given to open() is filtered by the umask; make sure it is exactly 0600.
    fs.chmodSync(path, 0o600);
    return new SecretCipher([key]);
  }

  /** True if the object carries an envelope. */
  static isEncrypted(o: StoredObject): boolean {
    return o.encryptedData !== undefined;
  }

  /**
   * A copy of `secret` with `data` and `stringData` (and the last-applied annotation)
   * replaced by an `encryptedData` envelope. The name must be final (the envelope is bound
   * to kind/namespace/name). An object already encrypted and carrying no plaintext is
   * returned as it is.
   */
  encrypt(secret: StoredObject): StoredObject {
    const hasPlain = secret.data !== undefined || secret.stringData !== undefined;
    if (secret.encryptedData !== undefined && !hasPlain) return secret;
    const data: Record<string, string> = {};
    for (const [field, v] of [['data', secret.data], ['stringData', secret.stringData]] as const) {
      if (v === undefined || v === null) continue;
      if (!isRecord(v)) throw new SecretCipherError(`${describeObject(secret)}: ${field} must be a map of strings`);
      for (const [k, s] of Object.entries(v)) {
        if (typeof s !== 'string') throw new SecretCipherError(`${describeObject(secret)}: ${field}.${k} must be a string`);
        // stringData is write-only convenience: merged into data as base64, winning on clashes.
        data[k] = field === 'data' ? s : Buffer.from(s, 'utf8').toString('base64');
      }
    }
    const payload: Payload = { data };
    const out: StoredObject = { ...secret, metadata: { ...secret.metadata } };
    delete out.data;
    delete out.stringData;
    const annotations = secret.metadata.annotations;
    if (annotations && typeof annotations[LAST_APPLIED] === 'string') {
      payload.lastApplied = annotations[LAST_APPLIED];
      const rest = { ...annotations };
      delete rest[LAST_APPLIED];
      out.metadata.annotations = rest;
    }
    const key = this.keys.get(this.keyId)!;
    const iv = randomBytes(IV_BYTES);
    const c = createCipheriv(ENCRYPTION_ALG, key, iv, { authTagLength: TAG_BYTES });
    c.setAAD(aad(secret));
    const ciphertext = Buffer.concat([c.update(JSON.stringify(payload), 'utf8'), c.final()]);
    const envelope: EncryptedData = {
      alg: ENCRYPTION_ALG,
      keyId: this.keyId,
      iv: iv.toString('base64'),
      tag: c.getAuthTag().toString('base64'),
      ciphertext: ciphertext.toString('base64'),
    };
    out.encryptedData = envelope;
    return out;
  }

  /**
   * A copy of `obj` with `data` (and the last-applied annotation) restored from its
   * envelope. An object without an envelope is returned as it is. Throws
   * {@link SecretCipherError} if the envelope was altered, belongs to another object, or
   * was written with a key this cipher does not hold.
   */
  decrypt(obj: StoredObject): StoredObject {
    const env = obj.encryptedData;
    if (env === undefined) return obj;
    const what = describeObject(obj);
    if (!isRecord(env) || env.alg !== ENCRYPTION_ALG || typeof env.keyId !== 'string' || typeof env.iv !== 'string' || typeof env.tag !== 'string' || typeof env.ciphertext !== 'string') {
      throw new SecretCipherError(`${what}: encryptedData is malformed (want {alg: "${ENCRYPTION_ALG}", keyId, iv, tag, ciphertext})`);
    }
    const key = this.keys.get(env.keyId);
    if (!key) throw new SecretCipherError(`${what}: encrypted with key ${env.keyId}, which is not loaded (loaded: ${[...this.keys.keys()].join(', ')})`);
    const iv = Buffer.from(env.iv, 'base64');
    const tag = Buffer.from(env.tag, 'base64');
    if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new SecretCipherError(`${what}: encryptedData has a wrong IV or tag length`);
    let plain: string;
    try {
      const d = createDecipheriv(ENCRYPTION_ALG, key, iv, { authTagLength: TAG_BYTES });
      d.setAAD(aad(obj));
      d.setAuthTag(tag);
      plain = Buffer.concat([d.update(Buffer.from(env.ciphertext, 'base64')), d.final()]).toString('utf8');
    } catch {
      throw new SecretCipherError(`${what}: encrypted data failed authentication: it was altered, or belongs to another object`);
    }
    let payload: Payload;
    try {
      payload = JSON.parse(plain) as Payload;
      if (!isRecord(payload) || !isRecord(payload.data)) throw new Error('no data');
    } catch {
      throw new SecretCipherError(`${what}: decrypted payload is not readable`);
    }
    const out: StoredObject = { ...obj, metadata: { ...obj.metadata }, data: payload.data };
    delete out.encryptedData;
    if (payload.lastApplied !== undefined) out.metadata.annotations = { ...(obj.metadata.annotations ?? {}), [LAST_APPLIED]: payload.lastApplied };
    return out;
  }
}
