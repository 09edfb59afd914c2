import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import {
  signature,
  withReasoning,
  type InferInputs,
  type InferOutputs,
  type ParseSignatureString,
  type ParseTypeString,
  type FileValue,
  type HistoryValue,
  type SignatureTypeError,
  type ToolCallsValue,
  type ToolValue,
} from '../../../src/signature/index.js';

describe('signature string inference', () => {
  it('infers inputs and outputs of a typed signature', () => {
    const qa = signature('question: str, context: str -> answer: str, confidence: float');
    expectTypeOf(qa.validateInputs({})).toEqualTypeOf<{ question: string; context: string }>();
    expectTypeOf(qa.parseOutputs({})).toEqualTypeOf<{ answer: string; confidence: number }>();
  });

  it('defaults untyped fields to string and ignores whitespace', () => {
    type S = ParseSignatureString<'  question ,context->  answer '>;
    expectTypeOf<S>().toEqualTypeOf<{
      inputs: { question: string; context: string };
      outputs: { answer: string };
    }>();
  });

  it('infers scalars, lists, dicts and nesting', () => {
    type S =
      ParseSignatureString<'a: int, b: bool, c: list[str], d: dict[str, list[int]] -> e: list[dict[str, list[int]]], f: Any'>;
    expectTypeOf<S['inputs']>().toEqualTypeOf<{
      a: number;
      b: boolean;
      c: string[];
      d: Record<string, number[]>;
    }>();
    expectTypeOf<S['outputs']>().toEqualTypeOf<{ e: Record<string, number[]>[]; f: unknown }>();
  });

  it('makes Optional and X | None inputs omittable and outputs nullable', () => {
    type S = ParseSignatureString<'q: str, k: Optional[int], tags: list[str] | None -> hint: str | None'>;
    expectTypeOf<S['inputs']>().toEqualTypeOf<{ q: string; k?: number | null; tags?: string[] | null }>();
    expectTypeOf<S['outputs']>().toEqualTypeOf<{ hint: string | null }>();
  });

  it('infers Literal values and unions', () => {
    type S =
      ParseSignatureString<`t -> label: Literal['pos', "neg"], n: Literal[1, 2], b: Literal[True, None], u: Union[int, str], v: int | str`>;
    expectTypeOf<S['outputs']>().toEqualTypeOf<{
      label: 'pos' | 'neg';
      n: 1 | 2;
      b: true | null;
      u: number | string;
      v: number | string;
    }>();
  });

  it('reads commas inside brackets and quotes as part of the type', () => {
    type S = ParseSignatureString<"x: dict[str, int], y: Literal['a, b', 'c'] -> z">;
    expectTypeOf<S['inputs']>().toEqualTypeOf<{ x: Record<string, number>; y: 'a, b' | 'c' }>();
  });

  it('accepts TypeScript spellings', () => {
    type S = ParseSignatureString<'tags: string[], n: number, ok: boolean, grid: number[][] -> out: any'>;
    expectTypeOf<S['inputs']>().toEqualTypeOf<{ tags: string[]; n: number; ok: boolean; grid: number[][] }>();
    expectTypeOf<S['outputs']>().toEqualTypeOf<{ out: unknown }>();
  });

  it('allows empty sides and trailing commas', () => {
    expectTypeOf<ParseSignatureString<'-> answer'>>().toEqualTypeOf<{
      inputs: Record<never, never>;
      outputs: { answer: string };
    }>();
    expectTypeOf<ParseSignatureString<'a, -> b, c,'>>().toEqualTypeOf<{
      inputs: { a: string };
      outputs: { b: string; c: string };
    }>();
  });

  it('gives loose records for a non-literal string', () => {
    const text: string = 'a -> b';
    const sig = signature(text);
    expectTypeOf(sig.validateInputs({})).toEqualTypeOf<Record<string, unknown>>();
  });

  it('exposes InferInputs and InferOutputs for signatures and literals', () => {
    const _sig = signature('q: int -> a: list[str]');
    expectTypeOf<InferInputs<typeof _sig>>().toEqualTypeOf<{ q: number }>();
    expectTypeOf<InferOutputs<typeof _sig>>().toEqualTypeOf<{ a: string[] }>();
    expectTypeOf<InferOutputs<'q -> a: bool'>>().toEqualTypeOf<{ a: boolean }>();
  });

  it("infers DSPy's types, tuples, sets and the typing spellings", () => {
    type S =
      ParseSignatureString<"photo: dspy.Image, doc: dspy.File, h: dspy.History, tools: list[dspy.Tool], t: typing.Text -> calls: dspy.ToolCalls, code: dspy.Code['python'], pair: tuple[int, str,], tags: set[str], more: Tuple[float, ...], opt: (int | None), why: dspy.Reasoning">;
    expectTypeOf<S['inputs']>().toEqualTypeOf<{
      photo: string;
      doc: FileValue;
      h: HistoryValue;
      tools: ToolValue[];
      t: string;
    }>();
    expectTypeOf<S['outputs']>().toEqualTypeOf<{
      calls: ToolCallsValue;
      code: string;
      pair: [number, string];
      tags: string[];
      more: number[];
      opt: number | null;
      why: string;
    }>();
  });

  it('reads parentheses as grouping, inside brackets too', () => {
    type S =
      ParseSignatureString<"x: dict[str, (int | None)], y: Literal['a', ('b')] -> z: list[(str)], w: (bool)">;
    expectTypeOf<S['inputs']>().toEqualTypeOf<{ x: Record<string, number | null>; y: 'a' | 'b' }>();
    expectTypeOf<S['outputs']>().toEqualTypeOf<{ z: string[]; w: boolean }>();
  });

  it('infers Python literal forms and non-English names', () => {
    type S =
      ParseSignatureString<"café, 名前: int -> a: Literal[u'x', r'\\d', 1_000, 0x1f, 'it' 's', ('p')], b: Literal['plain']">;
    expectTypeOf<S['inputs']>().toEqualTypeOf<{ café: string; 名前: number }>();
    // u'x' and r'\\d' are exact; adjacent strings give string (which absorbs them).
    expectTypeOf<S['outputs']>().toEqualTypeOf<{ a: number | string; b: 'plain' }>();
  });

  it('reads string prefixes exactly', () => {
    type S = ParseSignatureString<"q -> a: Literal[u'x', U\"y\", r'\\d']">;
    expectTypeOf<S['outputs']>().toEqualTypeOf<{ a: 'x' | 'y' | '\\d' }>();
  });

  it('gives loose records to a literal with a comment or a line continuation', () => {
    expectTypeOf<ParseSignatureString<'q, # the question\n c -> a'>>().toEqualTypeOf<{
      inputs: Record<string, unknown>;
      outputs: Record<string, unknown>;
    }>();
  });

  it('types one type string', () => {
    expectTypeOf<ParseTypeString<'Optional[list[float]]'>>().toEqualTypeOf<number[] | null>();
  });
});

describe('malformed signature literals', () => {
  it('infer to a SignatureTypeError', () => {
    expectTypeOf<ParseSignatureString<'question answer'>>().toEqualTypeOf<
      SignatureTypeError<"expected '->' between inputs and outputs">
    >();
    expectTypeOf<ParseSignatureString<'a -> b -> c'>>().toEqualTypeOf<
      SignatureTypeError<"expected exactly one '->'">
    >();
    expectTypeOf<ParseSignatureString<'a,, b -> c'>>().toEqualTypeOf<
      SignatureTypeError<'empty field name'>
    >();
    expectTypeOf<ParseSignatureString<'a -> a'>>().toEqualTypeOf<
      SignatureTypeError<"duplicate field name 'a'">
    >();
    expectTypeOf<ParseSignatureString<'a: strr -> b'>>().toEqualTypeOf<
      SignatureTypeError<"unknown type 'strr'">
    >();
  });

  it('do not compile when passed to signature()', () => {
    // @ts-expect-error missing '->'
    signature('question answer');
    // @ts-expect-error empty field name
    signature('a,, b -> c');
    // @ts-expect-error unknown type
    signature('a: strr -> b');
    // @ts-expect-error Python keyword as a field name
    signature('class -> answer');
    // @ts-expect-error reserved by DSPy
    signature('instructions -> answer');
    // @ts-expect-error leading underscore
    signature('_x -> y');
    // @ts-expect-error duplicate across inputs and outputs
    signature('a -> a');
    // @ts-expect-error dict keys must be str
    signature('a: dict[int, str] -> b');
    // @ts-expect-error Optional takes one type
    signature('a: Optional[int, str] -> b');
    // @ts-expect-error negative literal
    signature('a: Literal[-1] -> b');
    // @ts-expect-error missing type after ':'
    signature('a: -> b');
    // @ts-expect-error bare None is not a field type
    signature('a: None -> b');
    // @ts-expect-error list needs an item type
    signature('a: list[] -> b');
    // @ts-expect-error two names without a comma
    signature('a b -> c');
  });
});

describe('object form inference', () => {
  it('infers from zod schemas, type strings and {type, desc}', () => {
    const sig = signature({
      instructions: 'Classify.',
      inputs: {
        text: z.string().describe('the review'),
        k: 'int',
        hints: { type: 'list[str] | None', desc: 'optional hints' },
        lang: z.enum(['en', 'fr']).optional(),
      },
      outputs: { label: "Literal['pos', 'neg']", score: { type: z.number(), desc: '0..1' } },
    });
    expectTypeOf(sig.validateInputs({})).toEqualTypeOf<{
      text: string;
      k: number;
      hints?: string[] | null;
      lang?: 'en' | 'fr' | undefined;
    }>();
    expectTypeOf(sig.parseOutputs({})).toEqualTypeOf<{ label: 'pos' | 'neg'; score: number }>();
  });

  it('adds reasoning for ChainOfThought', () => {
    const cot = withReasoning(signature('question -> answer: int'));
    expectTypeOf(cot.parseOutputs({})).toEqualTypeOf<{ reasoning: string; answer: number }>();
    const more = signature('q -> a').prependOutputs({ plan: 'list[str]' });
    expectTypeOf(more.parseOutputs({})).toEqualTypeOf<{ plan: string[]; a: string }>();
  });
});
