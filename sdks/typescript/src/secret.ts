const inspect = Symbol.for("nodejs.util.inspect.custom");

/**
 * A client secret or an access token. `String(s)`, template literals,
 * `JSON.stringify` and `console.log` show `[REDACTED]`; `reveal()` returns
 * the value.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    if (typeof value !== "string") throw new TypeError("Secret wraps a string");
    this.#value = value;
  }

  /** A Secret from a string, or the Secret itself. */
  static of(value: string | Secret): Secret {
    return value instanceof Secret ? value : new Secret(value);
  }

  /** The value itself, to hand to whatever needs it. */
  reveal(): string {
    return this.#value;
  }

  /** Compares values without revealing them. */
  equals(other: Secret | undefined): boolean {
    return other instanceof Secret && other.#value === this.#value;
  }

  toString(): string {
    return "[REDACTED]";
  }

  toJSON(): string {
    return "[REDACTED]";
  }

  [inspect](): string {
    return "Secret([REDACTED])";
  }
}
