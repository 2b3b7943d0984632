import { describe, expect, it } from 'vitest';
import { compileModel } from '../lib/engine/compile.js';
import { convertOnnxToFp16, floatToHalfBits } from '../lib/engine/fp16-onnx.js';
import { decodeTensor } from '../lib/model/onnx-values.js';
import { runPlanReference } from '../lib/engine/reference.js';
import { decodeOnnx, metadataProps, onnx } from '../lib/model/onnx.js';
import { loadedModelFromBytes, makeDeepStormModel, makeUNetModel, seededRandom } from '../benchmarks/random-models.js';

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const FLOAT16 = onnx.TensorProto.DataType.FLOAT16;

/** Half bits -> number, written independently of lib/ (IEEE 754 binary16). */
function halfBitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m ? NaN : sign * Infinity;
  return sign * (1024 + m) * 2 ** (e - 25);
}

describe('float32 -> float16 rounding', () => {
  it('matches exact binary16 values and rounds to nearest even', () => {
    expect(floatToHalfBits(1)).toBe(0x3c00);
    expect(floatToHalfBits(-2)).toBe(0xc000);
    expect(floatToHalfBits(65504)).toBe(0x7bff);
    expect(floatToHalfBits(65520)).toBe(0x7c00); // halfway to the next (nonexistent) value rounds to Inf
    expect(floatToHalfBits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(floatToHalfBits(2 ** -26)).toBe(0x0000);
    expect(floatToHalfBits(1 + 2 ** -11)).toBe(0x3c00); // tie -> even (down)
    expect(floatToHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie -> even (up)
    expect(Number.isNaN(halfBitsToNumber(floatToHalfBits(NaN)))).toBe(true);
  });

  it('is the nearest binary16 value for random inputs, normal and subnormal', () => {
    const rand = seededRandom(8);
    for (let i = 0; i < 20000; i++) {
      const v = Math.fround((rand() * 2 - 1) * 2 ** Math.floor(rand() * 40 - 28));
      const h = halfBitsToNumber(floatToHalfBits(v));
      // Nearest: neither neighbour of h is closer to v.
      const bits = floatToHalfBits(v);
      for (const n of [bits - 1, bits + 1]) {
        if ((n & 0x7fff) >= 0x7c00 || (n & 0x8000) !== (bits & 0x8000)) continue;
        expect(Math.abs(halfBitsToNumber(n) - v)).toBeGreaterThanOrEqual(Math.abs(h - v));
      }
    }
  });
});

describe('convertOnnxToFp16', () => {
  for (const [name, bytes] of [
    ['deepstorm (BN, Constant scales)', makeDeepStormModel({ seed: 31, resize: { scalesSource: 'constant' } })],
    ['unet (BN folded, pixel shuffle with shape arithmetic)', makeUNetModel({ seed: 32, withBatchNorm: false, pixelShuffleAsTranspose: true })],
  ] as const) {
    it(`${name}: float16 weights and I/O, float32 Resize scales, values within fp16 rounding, metadata kept`, () => {
      const before = decodeOnnx(bytes, name);
      const after = decodeOnnx(convertOnnxToFp16(bytes), name);
      const g0 = before.graph!;
      const g1 = after.graph!;
      expect(g1.input![0].type!.tensorType!.elemType).toBe(FLOAT16);
      expect(g1.output![0].type!.tensorType!.elemType).toBe(FLOAT16);
      expect(g1.node!.map((n) => n.opType)).toEqual(g0.node!.map((n) => n.opType));
      expect(metadataProps(after)).toEqual(metadataProps(before));
      const resizeScales = new Set(g1.node!.filter((n) => n.opType === 'Resize').map((n) => n.input![2]));
      let converted = 0;
      g0.initializer!.forEach((t0, i) => {
        const t1 = g1.initializer![i];
        expect(t1.name).toBe(t0.name);
        const v0 = decodeTensor(t0)!;
        const v1 = decodeTensor(t1)!;
        expect(v1.dims).toEqual(v0.dims);
        if (t0.dataType !== FLOAT || resizeScales.has(t0.name!)) {
          expect(t1.dataType).toBe(t0.dataType);
          expect(Array.from(v1.values)).toEqual(Array.from(v0.values));
          return;
        }
        converted++;
        expect(t1.dataType).toBe(FLOAT16);
        v0.values.forEach((x, k) => expect(Math.abs(v1.values[k] - x)).toBeLessThanOrEqual(Math.abs(x) * 2 ** -11 + 2 ** -25));
      });
      expect(converted).toBeGreaterThan(10);
      for (const node of g1.node!.filter((n) => n.opType === 'Constant')) {
        const t = node.attribute![0].t!;
        if (resizeScales.has(node.output![0])) expect(t.dataType).toBe(FLOAT);
        else expect(t.dataType).not.toBe(FLOAT); // int64 shape constants stay int64, data constants become fp16
      }
    });
  }

  it('the fp16 model computes what the fp32 model does, within fp16 weight rounding (via the compiled plan)', () => {
    const bytes = makeUNetModel({ seed: 33 });
    const plan32 = compileModel(loadedModelFromBytes(bytes));
    const plan16 = compileModel(loadedModelFromBytes(convertOnnxToFp16(bytes)));
    const rand = seededRandom(3);
    const stack = { data: Uint16Array.from({ length: 2 * 16 * 16 }, () => 100 + Math.floor(rand() * 3000)), frames: 2, height: 16, width: 16 };
    const a = runPlanReference(plan32, stack, { rawMaps: true }).maps;
    const b = runPlanReference(plan16, stack, { rawMaps: true }).maps;
    let num = 0;
    let den = 0;
    for (let i = 0; i < a.length; i++) {
      num += (a[i] - b[i]) ** 2;
      den += a[i] ** 2;
    }
    const rel = Math.sqrt(num / den);
    expect(rel).toBeGreaterThan(0); // weights really changed
    expect(rel).toBeLessThan(5e-3); // ~10 layers of 2^-11 relative weight rounding
  });

  it('onnxruntime (CPU) runs the fp16 model and agrees with the fp32 model, or the test says why it cannot', async () => {
    const ort = await import('onnxruntime-node');
    const bytes = makeDeepStormModel({ seed: 34 });
    const fp16 = convertOnnxToFp16(bytes);
    let session16;
    try {
      session16 = await ort.InferenceSession.create(fp16);
    } catch (err) {
      console.warn(`onnxruntime CPU cannot run this fp16 model, output comparison skipped: ${(err as Error).message}`);
      return;
    }
    const rand = seededRandom(9);
    const x = Float32Array.from({ length: 16 * 16 }, () => rand() * 2 - 1);
    const session32 = await ort.InferenceSession.create(bytes);
    const ref = (await session32.run({ frames: new ort.Tensor('float32', x, [1, 1, 16, 16]) })).maps.data as Float32Array;
    const halfInput = Uint16Array.from(x, floatToHalfBits);
    let out: Uint16Array | Float32Array;
    try {
      out = (await session16.run({ frames: new ort.Tensor('float16', halfInput, [1, 1, 16, 16]) })).maps.data as Uint16Array;
    } catch (err) {
      console.warn(`onnxruntime CPU failed running the fp16 model, output comparison skipped: ${(err as Error).message}`);
      return;
    }
    const values: number[] = out instanceof Uint16Array ? Array.from(out, halfBitsToNumber) : Array.from(out, Number);
    let num = 0;
    let den = 0;
    values.forEach((v, i) => {
      num += (v - ref[i]) ** 2;
      den += ref[i] ** 2;
    });
    const rel = Math.sqrt(num / den);
    console.info(`onnxruntime fp16 vs fp32 maps: relative L2 ${rel.toExponential(2)}`);
    expect(rel).toBeGreaterThan(0);
    expect(rel).toBeLessThan(2e-2); // fp16 activations too: ~1e-3 per layer
  });
});
