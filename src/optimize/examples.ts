/**
 * The node's check of an optimizer run's examples before any worker sees them: every example has
 * each input field of the signature, and every field it gives (inputs and labels) has the field's
 * type. Found by fuzzing: a trainset value of the wrong shape (a list where the signature says
 * `str`) reached DSPy and came back as a 500 from inside the optimizer.
 */
import { parseSignature } from '../signature/index.js';
import { accepts, checkValue, isOmittable, isPlainObject } from '../signature/validate.js';
import { DspexError, ErrorCode } from '../errors.js';

/**
 * Throws for the first bad example: 400 naming `<set>.<i>` when it is not a map or lacks an input
 * (as the worker says it), 422 naming `<set>.<i>.<field>` when a field's value has another type.
 * Keys the signature does not name are left to the worker (extra labels for a metric).
 */
export function checkExamples(signatureText: string, set: 'trainset' | 'valset', examples: unknown[]): void {
  const sig = parseSignature(signatureText);
  examples.forEach((example, i) => {
    if (!isPlainObject(example)) throw bad(`${set}.${i}`, 'expected a map of fields');
    for (const field of sig.inputs) {
      const value = example[field.name];
      if (value === undefined) {
        if (isOmittable(field.type)) continue;
        throw bad(`${set}.${i}`, `lacks input ${field.name}`);
      }
      if (!accepts(field.type, value)) checkValue(field.type, value, `${set}.${i}.${field.name}`);
    }
    for (const field of sig.outputs) {
      const value = example[field.name];
      if (value !== undefined && !accepts(field.type, value)) {
        checkValue(field.type, value, `${set}.${i}.${field.name}`);
      }
    }
  });
}

function bad(field: string, message: string): DspexError {
  return new DspexError(ErrorCode.BadRequest, `${field}: ${message}`, { details: { field } });
}
