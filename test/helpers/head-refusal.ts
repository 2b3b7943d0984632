import { expect } from 'vitest';
import { SmlmError } from '../../lib/errors.js';
import { METADATA_KEYS, parseModelMetadata } from '../../lib/model/metadata.js';
import { testMetadata } from '../../benchmarks/random-models.js';

/** Why metadata with this `smlm.head` is refused (always E_MODEL_INVALID), or 'accepted'. */
export function headRefusal(head: unknown): string {
  try {
    parseModelMetadata({ ...testMetadata(), [METADATA_KEYS.head]: JSON.stringify(head) }, 'm.onnx');
  } catch (err) {
    expect(err).toBeInstanceOf(SmlmError);
    expect((err as SmlmError).code).toBe('E_MODEL_INVALID');
    return (err as SmlmError).message;
  }
  return 'accepted';
}
