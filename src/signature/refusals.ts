/**
 * The deliberate refusals of the signature grammar: text DSPy's own parser (3.4.1) accepts, or may
 * accept, that dspex refuses on purpose. A refused signature's error carries the kind in
 * `details.refusal`; docs/signatures.md gives the reason for each. The Python worker uses the same
 * codes (`python/dspex_worker/signature_types.py`).
 */
export const Refusal = {
  /** A type name outside the grammar (`bytes`, `Sequence`, `Self`, `frozenset`, …): DSPy resolves any. */
  UnknownType: 'unknown-type',
  /** A dotted path other than `dspy.<Type>` and `typing.<name>`: DSPy imports modules to follow it. */
  DottedName: 'dotted-name',
  /** `dspy.<X>` for an X that is not one of the grammar's DSPy types (`dspy.Type`, `dspy.Predict`, …). */
  DspyType: 'dspy-type',
  /** `None` or `NoneType` as a whole type (`a: None`, `list[None]`): DSPy turns `a: None` into `str`. */
  NoneType: 'none-type',
  /** A dict key type other than `str`: JSON object keys are strings. */
  DictKey: 'dict-key',
  /** A field name used twice: DSPy merges `a, a -> b` into one field. */
  DuplicateField: 'duplicate-field',
  /** A default value (`a=1`, `a: int = 1`): DSPy ignores it silently. */
  DefaultValue: 'default-value',
  /** `*a`, `**a`, a bare `*` or `/`: DSPy drops the fields around them silently. */
  StarParameter: 'star-parameter',
  /** An identifier NFKC changes (`ﬁeld`, `ｉｎｔ`): Python would rename it. */
  NotNfkc: 'not-nfkc',
  /** An integer beyond ±(2**53 − 1) in `Literal`: a JSON number cannot hold it exactly. */
  UnsafeInteger: 'unsafe-integer',
  /** A `Literal` value JSON cannot hold: bytes, complex numbers, `...`, infinity, a lone surrogate. */
  NotJson: 'not-json',
  /** A quoted type (`list['int']`): a forward reference, which pydantic resolves by evaluating the name. */
  ForwardReference: 'forward-reference',
  /** Something in `Literal[...]` that is not a value (a type, a nested `Literal`). */
  LiteralValue: 'literal-value',
  /** A string escape the grammar does not decode: `\N{...}` (needs Unicode's name list) or an invalid one. */
  Escape: 'escape',
  /** The wrong number of type arguments (`list[int, str]`, `tuple[()]`) or a parenthesised tuple of them. */
  TypeArguments: 'type-arguments',
  /** A `set` item type whose values cannot be set members (lists, dicts, sets, DSPy types). */
  SetItem: 'set-item',
  /** `dspy.History` anywhere but as the whole type of one input field, or `dspy.Tool` as an output. */
  DspyPlacement: 'dspy-placement',
  /** A `dspy.Code[...]` language that is not 1–32 of letters, digits, `_ + # . -`. */
  CodeLanguage: 'code-language',
  /** Past a limit of the grammar (text length, field count, type nesting). */
  Limit: 'limit',
} as const;
export type Refusal = (typeof Refusal)[keyof typeof Refusal];
