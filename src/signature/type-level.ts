/**
 * Compile-time mirror of the parser: template-literal types that turn a signature literal into
 * its input and output object types, or into a {@link SignatureTypeError} naming the problem.
 * Anything the run-time parser rejects and these types cannot see still fails at run time. A
 * literal with a comment or a line continuation gets loose records (the run-time parser reads it).
 */
import type { DspyValues } from './dspy-types.js';
import type { PYTHON_KEYWORDS, RESERVED_FIELD_NAMES } from './names.js';

declare const signatureErrorBrand: unique symbol;

/** What a malformed signature literal infers to; it is assignable to nothing useful. */
export interface SignatureTypeError<Message extends string> {
  readonly [signatureErrorBrand]: Message;
}

type Err<M extends string> = SignatureTypeError<M>;
type Ok<T> = { readonly ok: T };

type Space = ' ' | '\n' | '\t' | '\r' | '\f';
type TrimLeft<S extends string> = S extends `${Space}${infer R}` ? TrimLeft<R> : S;
type TrimRight<S extends string> = S extends `${infer R}${Space}` ? TrimRight<R> : S;
type Trim<S extends string> = TrimLeft<TrimRight<S>>;

/** Flattens an intersection for readable hovers and exact `expectTypeOf` comparisons. */
export type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** Splits on a separator outside brackets, parentheses and quotes, walking one character at a time. */
type SplitDeep<
  S extends string,
  Sep extends string,
  Depth extends 0[] = [],
  Quote extends string = '',
  Cur extends string = '',
  Acc extends string[] = [],
> = S extends `${infer C}${infer R}`
  ? Quote extends ''
    ? C extends Sep
      ? Depth extends []
        ? SplitDeep<R, Sep, Depth, Quote, '', [...Acc, Cur]>
        : SplitDeep<R, Sep, Depth, Quote, `${Cur}${C}`, Acc>
      : C extends '[' | '('
        ? SplitDeep<R, Sep, [...Depth, 0], Quote, `${Cur}${C}`, Acc>
        : C extends ']' | ')'
          ? SplitDeep<R, Sep, Depth extends [0, ...infer D extends 0[]] ? D : [], Quote, `${Cur}${C}`, Acc>
          : C extends "'" | '"'
            ? SplitDeep<R, Sep, Depth, C, `${Cur}${C}`, Acc>
            : SplitDeep<R, Sep, Depth, Quote, `${Cur}${C}`, Acc>
    : SplitDeep<R, Sep, Depth, C extends Quote ? '' : Quote, `${Cur}${C}`, Acc>
  : [...Acc, Cur];

/** Splits on a separator, ignoring brackets (tail-recursive, one step per piece). */
type SplitSimple<
  S extends string,
  Sep extends string,
  Acc extends string[] = [],
> = S extends `${infer H}${Sep}${infer T}` ? SplitSimple<T, Sep, [...Acc, H]> : [...Acc, S];

type Occurrences<S extends string, C extends string, N extends 0[] = []> = S extends `${string}${C}${infer R}`
  ? Occurrences<R, C, [...N, 0]>
  : N;
type Without<T extends 0[], N extends 0[]> = T extends [...N, ...infer Rest extends 0[]] ? Rest : [];

/** Re-joins pieces split inside brackets (or parentheses), counting them per piece rather than per character. */
type MergeBrackets<
  Pieces extends string[],
  Sep extends string,
  Depth extends 0[] = [],
  Cur extends string = '',
  Started extends boolean = false,
  Acc extends string[] = [],
> = Pieces extends [infer P extends string, ...infer Rest extends string[]]
  ? Without<
      [...Depth, ...Occurrences<P, '['>, ...Occurrences<P, '('>],
      [...Occurrences<P, ']'>, ...Occurrences<P, ')'>]
    > extends infer D extends 0[]
    ? (Started extends true ? `${Cur}${Sep}${P}` : P) extends infer Joined extends string
      ? D extends []
        ? MergeBrackets<Rest, Sep, [], '', false, [...Acc, Joined]>
        : MergeBrackets<Rest, Sep, D, Joined, true, Acc>
      : never
    : never
  : Started extends true
    ? [...Acc, Cur]
    : Acc;

/**
 * Splits on a separator outside brackets and quotes. Quoted text (Literal strings) needs the
 * character walk, which TypeScript limits to about 1000 characters; the rest goes piece by piece.
 */
type Split<S extends string, Sep extends ',' | '|'> = S extends `${string}${"'" | '"'}${string}`
  ? SplitDeep<S, Sep>
  : S extends `${string}${'[' | '('}${string}`
    ? MergeBrackets<SplitSimple<S, Sep>, Sep>
    : SplitSimple<S, Sep>;

type Digit = '0' | '1' | '2' | '3' | '4' | '5' | '6' | '7' | '8' | '9';
/** ASCII characters no identifier has; any other character is left to the run-time check. */
type AsciiNonIdent =
  | ' '
  | '\t'
  | '\n'
  | '\r'
  | '\f'
  | '\v'
  | '!'
  | '"'
  | '#'
  | '$'
  | '%'
  | '&'
  | "'"
  | '('
  | ')'
  | '*'
  | '+'
  | ','
  | '-'
  | '.'
  | '/'
  | ':'
  | ';'
  | '<'
  | '='
  | '>'
  | '?'
  | '@'
  | '['
  | '\\'
  | ']'
  | '^'
  | '`'
  | '{'
  | '|'
  | '}'
  | '~';
type IdentTail<S extends string> = S extends `${infer C}${infer R}`
  ? C extends AsciiNonIdent
    ? false
    : IdentTail<R>
  : true;

type NameProblem<N extends string> = N extends ''
  ? 'empty field name'
  : N extends `_${string}`
    ? `field name '${N}' starts with an underscore`
    : N extends `${Digit | AsciiNonIdent}${string}`
      ? `field name '${N}' is not an identifier`
      : IdentTail<N> extends true
        ? N extends (typeof PYTHON_KEYWORDS)[number]
          ? `field name '${N}' is a Python keyword`
          : N extends (typeof RESERVED_FIELD_NAMES)[number]
            ? `field name '${N}' is reserved by DSPy`
            : never
        : `field name '${N}' is not an identifier`;

type Scalars = {
  str: string;
  string: string;
  int: number;
  float: number;
  number: number;
  bool: boolean;
  boolean: boolean;
  Any: unknown;
  any: unknown;
  Text: string;
  list: unknown[];
  List: unknown[];
  set: unknown[];
  Set: unknown[];
  tuple: unknown[];
  Tuple: unknown[];
  dict: Record<string, unknown>;
  Dict: Record<string, unknown>;
};

/** Parses one type expression (trimmed) to `Ok<T>` or an error. */
type ParseType<T extends string> =
  Split<T, '|'> extends [infer Only extends string] ? ParseAtom<Trim<Only>> : ParseUnion<Split<T, '|'>>;

type ParseUnion<Parts extends string[], Acc = never, HasType = false> = Parts extends [
  infer P extends string,
  ...infer Rest extends string[],
]
  ? Trim<P> extends 'None'
    ? ParseUnion<Rest, Acc | null, HasType>
    : ParseAtom<Trim<P>> extends infer R
      ? R extends Ok<infer V>
        ? ParseUnion<Rest, Acc | V, true>
        : R
      : never
  : HasType extends true
    ? Ok<Acc>
    : Err<'a union needs a type other than None'>;

type ParseArgs<Parts extends string[], Acc = never> = Parts extends [
  infer P extends string,
  ...infer Rest extends string[],
]
  ? Trim<P> extends 'None'
    ? ParseArgs<Rest, Acc | null>
    : ParseType<Trim<P>> extends infer R
      ? R extends Ok<infer V>
        ? ParseArgs<Rest, Acc | V>
        : R
      : never
  : Ok<Acc>;

type Wrap<R, F extends 'list' | 'dict' | 'optional'> =
  R extends Ok<infer V> ? Ok<F extends 'list' ? V[] : F extends 'dict' ? Record<string, V> : V | null> : R;

type Generic =
  'list' | 'List' | 'set' | 'Set' | 'tuple' | 'Tuple' | 'dict' | 'Dict' | 'Optional' | 'Union' | 'Literal';

/** The arguments inside a type's brackets, a trailing comma dropped. */
type Args<S extends string> = DropTrailing<Split<S, ','>>;

type ParseAtom<A extends string> = A extends keyof Scalars
  ? Ok<Scalars[A]>
  : A extends `${infer Item}[]`
    ? Trim<Item> extends Generic
      ? Err<`'${A}' needs a type inside the brackets`>
      : Wrap<ParseType<Trim<Item>>, 'list'>
    : A extends `(${infer Inner})`
      ? ParseType<Trim<Inner>>
      : A extends `typing.${infer Rest}`
        ? ParseAtom<Rest>
        : A extends `dspy.${infer Rest}`
          ? ParseDspy<Rest>
          : A extends `${'list' | 'List' | 'set' | 'Set'}[${infer Item}]`
            ? Args<Item> extends [infer I extends string]
              ? Wrap<ParseType<Trim<I>>, 'list'>
              : Err<`'${A}' needs one item type`>
            : A extends `${'dict' | 'Dict'}[${infer DictArgs}]`
              ? Args<DictArgs> extends [infer K extends string, infer V extends string]
                ? Trim<K> extends 'str' | 'string' | 'Text'
                  ? Wrap<ParseType<Trim<V>>, 'dict'>
                  : Err<`'${A}': dict keys must be str`>
                : Err<`'${A}' needs a key and a value type`>
              : A extends `${'tuple' | 'Tuple'}[${infer TupleArgs}]`
                ? ParseTuple<Args<TupleArgs>>
                : A extends `Optional[${infer Inner}]`
                  ? Args<Inner> extends [infer I extends string]
                    ? Wrap<ParseType<Trim<I>>, 'optional'>
                    : Err<`'${A}': Optional takes one type`>
                  : A extends `Union[${infer UnionArgs}]`
                    ? ParseArgs<Args<UnionArgs>>
                    : A extends `Literal[${infer Values}]`
                      ? ParseLiterals<Args<Values>>
                      : Err<`unknown type '${A}'`>;

type ParseDspy<R extends string> = R extends keyof DspyValues
  ? Ok<DspyValues[R]>
  : R extends `Code[${string}]`
    ? Ok<string>
    : Err<`unknown DSPy type 'dspy.${R}'`>;

type ParseTuple<P extends string[]> = P extends [infer I extends string, infer E extends string]
  ? Trim<E> extends '...'
    ? Wrap<ParseType<Trim<I>>, 'list'>
    : ParseTupleItems<P>
  : ParseTupleItems<P>;

type ParseTupleItems<P extends string[], Acc extends unknown[] = []> = P extends [
  infer H extends string,
  ...infer R extends string[],
]
  ? ParseType<Trim<H>> extends infer X
    ? X extends Ok<infer V>
      ? ParseTupleItems<R, [...Acc, V]>
      : X
    : never
  : Acc extends []
    ? Err<'a tuple needs an item type'>
    : Ok<Acc>;

/** A quoted string's value: exact without escapes, `string` with escapes or adjacent strings. */
type Quoted<V extends string, Raw extends boolean> = V extends `'${infer S}'`
  ? Unquoted<S, "'", Raw>
  : V extends `"${infer S}"`
    ? Unquoted<S, '"', Raw>
    : Err<`invalid literal value '${V}'`>;
type Unquoted<S extends string, Q extends string, Raw extends boolean> = S extends `${string}${Q}${string}`
  ? Ok<string>
  : Raw extends true
    ? Ok<S>
    : S extends `${string}\\${string}`
      ? Ok<string>
      : Ok<S>;

type LiteralOf<V extends string> = V extends `${"'" | '"'}${string}`
  ? Quoted<V, false>
  : V extends `${'u' | 'U'}${infer R extends `${"'" | '"'}${string}`}`
    ? Quoted<R, false>
    : V extends `${'r' | 'R'}${infer R extends `${"'" | '"'}${string}`}`
      ? Quoted<R, true>
      : V extends 'True'
        ? Ok<true>
        : V extends 'False'
          ? Ok<false>
          : V extends 'None'
            ? Ok<null>
            : V extends `(${infer Inner})`
              ? LiteralOf<Trim<Inner>>
              : V extends `${'-' | '+'}${string}`
                ? Err<`negative literal ${V} (DSPy cannot parse it)`>
                : V extends `${Digit | '.'}${string}`
                  ? V extends `${infer N extends number}`
                    ? Ok<N>
                    : Ok<number>
                  : Err<`invalid literal value '${V}'`>;

type ParseLiterals<Parts extends string[], Acc = never> = Parts extends [
  infer P extends string,
  ...infer Rest extends string[],
]
  ? LiteralOf<Trim<P>> extends infer R
    ? R extends Ok<infer V>
      ? ParseLiterals<Rest, Acc | V>
      : R
    : never
  : Ok<Acc>;

/** One `name[: type]` entry to `Ok<[name, T]>` or an error. */
type ParseField<F extends string> = F extends `${infer N}:${infer T}`
  ? Trim<T> extends ''
    ? Err<`field '${Trim<N>}' has ':' but no type`>
    : ParseType<Trim<T>> extends infer R
      ? R extends Ok<infer V>
        ? [NameProblem<Trim<N>>] extends [never]
          ? Ok<[Trim<N>, V]>
          : Err<NameProblem<Trim<N>>>
        : R
      : never
  : [NameProblem<F>] extends [never]
    ? Ok<[F, string]>
    : Err<NameProblem<F>>;

/** Drops the empty piece a trailing comma (or an empty side) leaves behind. */
type DropTrailing<P extends string[]> = P extends [...infer H extends string[], infer L extends string]
  ? Trim<L> extends ''
    ? H
    : P
  : P;

type ParseFields<
  Parts extends string[],
  Seen extends string,
  Acc extends [string, unknown][] = [],
> = Parts extends [infer P extends string, ...infer Rest extends string[]]
  ? ParseField<Trim<P>> extends infer R
    ? R extends Ok<[infer N extends string, infer V]>
      ? N extends Seen
        ? Err<`duplicate field name '${N}'`>
        : ParseFields<Rest, Seen | N, [...Acc, [N, V]]>
      : R
    : never
  : Ok<Acc>;

type InputsObject<F extends [string, unknown][]> = Simplify<
  { [E in F[number] as null extends E[1] ? never : E[0]]: E[1] } & {
    [E in F[number] as null extends E[1] ? E[0] : never]?: E[1];
  }
>;
type OutputsObject<F extends [string, unknown][]> = Simplify<{ [E in F[number] as E[0]]: E[1] }>;

type ParseSides<L extends string, R extends string> =
  ParseFields<DropTrailing<Split<L, ','>>, never> extends infer In
    ? In extends Ok<infer IF extends [string, unknown][]>
      ? ParseFields<DropTrailing<Split<R, ','>>, IF[number][0]> extends infer Out
        ? Out extends Ok<infer OF extends [string, unknown][]>
          ? { inputs: InputsObject<IF>; outputs: OutputsObject<OF> }
          : Out
        : never
      : In
    : never;

/**
 * The input and output types of a signature literal, or a {@link SignatureTypeError}.
 * A non-literal `string` gives loose records.
 *
 * @example
 * ```ts
 * type S = ParseSignatureString<'question: str, k: int -> answers: list[str]'>;
 * // { inputs: { question: string; k: number }; outputs: { answers: string[] } }
 * ```
 */
export type ParseSignatureString<S extends string> = string extends S
  ? { inputs: Record<string, unknown>; outputs: Record<string, unknown> }
  : S extends `${string}${'#' | '\\\n' | '\\\r'}${string}`
    ? { inputs: Record<string, unknown>; outputs: Record<string, unknown> }
    : S extends `${infer L}->${infer R}`
      ? R extends `${string}->${string}`
        ? Err<"expected exactly one '->'">
        : ParseSides<L, R>
      : Err<"expected '->' between inputs and outputs">;

/** The TypeScript type of one type string such as `'list[str]'` or `'number[]'`. */
export type ParseTypeString<T extends string> = string extends T
  ? unknown
  : ParseType<Trim<T>> extends infer R
    ? R extends Ok<infer V>
      ? V
      : R
    : never;

/**
 * `S` itself when it is a valid signature literal, else the error type, so that passing a malformed
 * literal to `signature()` fails to compile with the reason in the message.
 */
export type CheckedSignature<S extends string> =
  ParseSignatureString<S> extends SignatureTypeError<infer M> ? SignatureTypeError<M> : S;
