/**
 * Kubernetes resource quantities (`500m`, `0.5`, `128Mi`, `1Gi`, `2e3`),
 * parsed exactly as `k8s.io/apimachinery/pkg/api/resource` does.
 *
 * A quantity is held as an exact decimal `units / 10^scale` with bigint units,
 * so `0.1 + 0.2` is `300m`, never a binary-float approximation. Like
 * Kubernetes, precision below one nano-unit is rounded away from zero, and the
 * notation a quantity was written in (binary SI, decimal SI or decimal
 * exponent) is remembered so it can be printed back canonically:
 * `0.5` → `500m`, `1024Mi` → `1Gi`, `1500` → `1500`, `12000` → `12k`.
 */

export type QuantityFormat = 'BinarySI' | 'DecimalSI' | 'DecimalExponent';

/** Kubernetes' own wording, so messages match `kubectl`'s. */
export const QUANTITY_FORMAT_MESSAGE =
  "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
const SUFFIX_MESSAGE = "unable to parse quantity's suffix";
const NUMERIC_MESSAGE = "unable to parse quantity's numeric value";

export class QuantityError extends Error {
  override readonly name = 'QuantityError';
  readonly input: string;
  constructor(input: string, message: string) {
    super(message);
    this.input = input;
  }
}

const FORMAT_RE = /^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$/;

const DECIMAL_SUFFIX_EXPONENT: Readonly<Record<string, number>> = {
  n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18,
};
const EXPONENT_DECIMAL_SUFFIX = new Map(Object.entries(DECIMAL_SUFFIX_EXPONENT).map(([s, e]) => [e, s]));
const BINARY_SUFFIXES = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'] as const;

/** Finest precision Kubernetes keeps: 10^-9. */
const MAX_SCALE = 9;

const TEN = 10n;
const pow10 = (n: number): bigint => TEN ** BigInt(n);
const abs = (n: bigint): bigint => (n < 0n ? -n : n);

/** Divides and rounds away from zero (Kubernetes rounds quantities "up"). */
function divAwayFromZero(n: bigint, d: bigint): bigint {
  const q = n / d;
  return n % d === 0n ? q : n < 0n ? q - 1n : q + 1n;
}

export class Quantity {
  /** The value is `units / 10^scale`; scale is 0..9 and minimal after normalize(). */
  private readonly units: bigint;
  private readonly scale: number;
  readonly format: QuantityFormat;
  /** The canonical text, made on first use (the value never changes). */
  private text: string | undefined;

  private constructor(units: bigint, scale: number, format: QuantityFormat) {
    // Keep the representation minimal so equal values have equal fields.
    while (scale > 0 && units % TEN === 0n) {
      units /= TEN;
      scale--;
    }
    if (units === 0n) scale = 0;
    this.units = units;
    this.scale = scale;
    this.format = format;
  }

  /** Parses a quantity; numbers (as YAML gives `cpu: 0.5`) are read from their decimal text. */
  static parse(input: string | number): Quantity {
    const text = typeof input === 'number' ? numberText(input) : input.trim();
    if (text === '') throw new QuantityError(String(input), 'quantities must not be empty');
    const m = FORMAT_RE.exec(text);
    if (!m) throw new QuantityError(text, QUANTITY_FORMAT_MESSAGE);
    const numberPart = m[1]!;
    const suffix = m[2]!;

    // The number: optional sign, digits, at most one '.', at least one digit.
    let i = 0;
    let negative = false;
    if (numberPart[0] === '+' || numberPart[0] === '-') {
      negative = numberPart[0] === '-';
      i = 1;
    }
    const body = numberPart.slice(i);
    const dot = body.indexOf('.');
    if (dot !== body.lastIndexOf('.')) throw new QuantityError(text, SUFFIX_MESSAGE);
    const whole = dot < 0 ? body : body.slice(0, dot);
    const frac = dot < 0 ? '' : body.slice(dot + 1);
    if (whole.length + frac.length === 0) throw new QuantityError(text, NUMERIC_MESSAGE);
    let units = BigInt((whole || '0') + frac);
    if (negative) units = -units;
    let scale = frac.length;

    // The suffix: binary SI, decimal SI, or a decimal exponent.
    let format: QuantityFormat;
    let exponent10 = 0;
    let power1024 = 0;
    if (suffix in DECIMAL_SUFFIX_EXPONENT) {
      format = 'DecimalSI';
      exponent10 = DECIMAL_SUFFIX_EXPONENT[suffix]!;
    } else if ((BINARY_SUFFIXES as readonly string[]).includes(suffix)) {
      format = 'BinarySI';
      power1024 = BINARY_SUFFIXES.indexOf(suffix as (typeof BINARY_SUFFIXES)[number]);
    } else if (suffix.length > 1 && (suffix[0] === 'e' || suffix[0] === 'E') && /^[+-]?[0-9]+$/.test(suffix.slice(1))) {
      format = 'DecimalExponent';
      exponent10 = Number(suffix.slice(1));
      if (!Number.isSafeInteger(exponent10) || Math.abs(exponent10) > 1000) {
        throw new QuantityError(text, NUMERIC_MESSAGE);
      }
    } else {
      throw new QuantityError(text, SUFFIX_MESSAGE);
    }

    units *= 1024n ** BigInt(power1024);
    if (exponent10 >= 0) units *= pow10(exponent10);
    else scale -= exponent10;
    while (scale > 0 && units % TEN === 0n) {
      units /= TEN;
      scale--;
    }
    if (scale > MAX_SCALE) {
      units = divAwayFromZero(units, pow10(scale - MAX_SCALE));
      scale = MAX_SCALE;
    }
    return new Quantity(units, scale, format);
  }

  /** A quantity of `milli` thousandths (e.g. millicores), printed in decimal SI. */
  static fromMilli(milli: number | bigint): Quantity {
    return new Quantity(BigInt(milli), 3, 'DecimalSI');
  }

  /** A whole number of units; pass 'BinarySI' for byte counts so they print as `Mi`/`Gi`. */
  static fromInt(value: number | bigint, format: QuantityFormat = 'DecimalSI'): Quantity {
    return new Quantity(BigInt(value), 0, format);
  }

  static zero(format: QuantityFormat = 'DecimalSI'): Quantity {
    return new Quantity(0n, 0, format);
  }

  /** -1, 0 or 1. */
  sign(): -1 | 0 | 1 {
    return this.units < 0n ? -1 : this.units > 0n ? 1 : 0;
  }

  isZero(): boolean {
    return this.units === 0n;
  }

  /** -1, 0 or 1 as this is less than, equal to or greater than `other`. */
  cmp(other: Quantity | string | number): -1 | 0 | 1 {
    const o = asQuantity(other);
    const s = Math.max(this.scale, o.scale);
    const a = this.units * pow10(s - this.scale);
    const b = o.units * pow10(s - o.scale);
    return a < b ? -1 : a > b ? 1 : 0;
  }

  equals(other: Quantity | string | number): boolean {
    return this.cmp(other) === 0;
  }

  /** The sum; keeps this quantity's notation unless this is zero (as Kubernetes does). */
  add(other: Quantity | string | number): Quantity {
    const o = asQuantity(other);
    const s = Math.max(this.scale, o.scale);
    const sum = this.units * pow10(s - this.scale) + o.units * pow10(s - o.scale);
    return new Quantity(sum, s, this.isZero() ? o.format : this.format);
  }

  sub(other: Quantity | string | number): Quantity {
    return this.add(asQuantity(other).neg());
  }

  neg(): Quantity {
    return new Quantity(-this.units, this.scale, this.format);
  }

  /** This quantity multiplied by an integer. */
  mul(factor: number | bigint): Quantity {
    return new Quantity(this.units * BigInt(factor), this.scale, this.format);
  }

  /** The value in thousandths, rounded away from zero (Kubernetes' MilliValue). */
  milliValue(): bigint {
    return this.scaledValue(3);
  }

  /** The value in whole units, rounded away from zero (Kubernetes' Value). */
  value(): bigint {
    return this.scaledValue(0);
  }

  /** `milliValue()` as a number: millicores for cpu. */
  toMilli(): number {
    return Number(this.milliValue());
  }

  /** `value()` as a number: bytes for memory and storage. */
  toBytes(): number {
    return Number(this.value());
  }

  /** An approximate floating-point value, for ratios and display only. */
  toNumber(): number {
    return Number(this.units) / 10 ** this.scale;
  }

  private scaledValue(digits: number): bigint {
    if (this.scale <= digits) return this.units * pow10(digits - this.scale);
    return divAwayFromZero(this.units, pow10(this.scale - digits));
  }

  /** The canonical text, as the API server would store it. */
  toString(): string {
    return (this.text ??= this.canonical());
  }

  private canonical(): string {
    if (this.units === 0n) return '0';
    let format = this.format;
    if (format === 'BinarySI') {
      const small = abs(this.units) < 1024n * pow10(this.scale);
      if (small || this.scale > 0) format = 'DecimalSI'; // would lose precision, or is clearer as a plain number
    }
    if (format === 'BinarySI') {
      let mantissa = this.units;
      let power = 0;
      while (power < BINARY_SUFFIXES.length - 1 && mantissa % 1024n === 0n) {
        mantissa /= 1024n;
        power++;
      }
      return `${mantissa}${BINARY_SUFFIXES[power]}`;
    }
    // Decimal: mantissa × 10^exponent with the exponent a multiple of three.
    let mantissa = this.units;
    let exponent = -this.scale;
    while (mantissa % TEN === 0n) {
      mantissa /= TEN;
      exponent++;
    }
    const r = ((exponent % 3) + 3) % 3;
    mantissa *= pow10(r);
    exponent -= r;
    if (format === 'DecimalSI') {
      const suffix = EXPONENT_DECIMAL_SUFFIX.get(exponent);
      if (suffix !== undefined) return `${mantissa}${suffix}`;
    }
    return exponent === 0 ? `${mantissa}` : `${mantissa}e${exponent}`;
  }

  toJSON(): string {
    return this.toString();
  }
}

/** Decimal text of a JS number without exponent surprises for ordinary values. */
function numberText(n: number): string {
  if (!Number.isFinite(n)) throw new QuantityError(String(n), QUANTITY_FORMAT_MESSAGE);
  return String(n).replace('e+', 'e');
}

function asQuantity(q: Quantity | string | number): Quantity {
  return q instanceof Quantity ? q : Quantity.parse(q);
}

/** Parses a quantity; throws QuantityError with Kubernetes' message when malformed. */
export function parseQuantity(input: string | number): Quantity {
  return Quantity.parse(input);
}

/**
 * Parses a quantity, or returns undefined when it is malformed. Quantities are immutable and
 * the same few texts ("250m", "128Mi") come back for every pod, so the results for texts are
 * kept in a bounded table (emptied when full).
 */
export function tryParseQuantity(input: unknown): Quantity | undefined {
  if (typeof input === 'number') {
    try {
      return Quantity.parse(input);
    } catch {
      return undefined;
    }
  }
  if (typeof input !== 'string') return undefined;
  const known = parsed.get(input);
  if (known !== undefined || parsed.has(input)) return known;
  let q: Quantity | undefined;
  try {
    q = Quantity.parse(input);
  } catch {
    q = undefined;
  }
  if (parsed.size >= PARSED_MAX) parsed.clear();
  parsed.set(input, q);
  return q;
}

const PARSED_MAX = 4096;
const parsed = new Map<string, Quantity | undefined>();

/** Compares two quantities given as text, numbers or Quantity values. */
export function compareQuantities(a: Quantity | string | number, b: Quantity | string | number): -1 | 0 | 1 {
  return asQuantity(a).cmp(b);
}
