import { consumersOf, removeLayer, type GraphPass, type IrConv, type IrPhase } from './ir.js';

/**
 * A convolution applied to a nearest-upsampled input (factor u) computed on the un-upsampled input as u*u phases.
 * With up[i] = in[floor(i / u)], output row u*oy + py reads upsampled rows u*oy + py + ky - padTop, i.e. input rows
 * oy + floor((py + ky - padTop) / u): taps that land on the same input row are summed into one. Exact (zero padding
 * of the upsampled tensor is zero padding of the input), and a 3x3 conv after x8 upsampling needs 100 taps per 64
 * outputs instead of 576.
 */
export function phasesForUpsampledInput(conv: IrConv, u: number): IrPhase[] {
  const [base] = conv.phases;
  const { kh, kw, padTop, padLeft, weights } = base;
  const cin = conv.cin;
  const rowOf = (p: number, k: number, pad: number) => Math.floor((p + k - pad) / u);
  const phases: IrPhase[] = [];
  for (let py = 0; py < u; py++) {
    for (let px = 0; px < u; px++) {
      const top = rowOf(py, 0, padTop);
      const left = rowOf(px, 0, padLeft);
      const nkh = rowOf(py, kh - 1, padTop) - top + 1;
      const nkw = rowOf(px, kw - 1, padLeft) - left + 1;
      const summed = new Float32Array(conv.cout * nkh * nkw * cin);
      for (let co = 0; co < conv.cout; co++) {
        for (let ky = 0; ky < kh; ky++) {
          const ny = rowOf(py, ky, padTop) - top;
          for (let kx = 0; kx < kw; kx++) {
            const nx = rowOf(px, kx, padLeft) - left;
            const src = ((co * kh + ky) * kw + kx) * cin;
            const dst = ((co * nkh + ny) * nkw + nx) * cin;
            for (let ci = 0; ci < cin; ci++) summed[dst + ci] += weights[src + ci];
          }
        }
      }
      phases.push({ phaseY: py, phaseX: px, kh: nkh, kw: nkw, padTop: -top, padLeft: -left, weights: summed });
    }
  }
  return phases;
}

/** Rewrites every conv reading a nearest-upsampled tensor as a phased conv on the upsample's input. */
export const fuseUpsampleIntoConv: GraphPass = {
  name: 'fuse-upsample-into-conv',
  run(graph) {
    for (const layer of [...graph.layers]) {
      if (layer.kind !== 'upsample' || layer.output === graph.output) continue;
      const readers = consumersOf(graph, layer.output);
      const fusable = readers.every(
        (r) => r.kind === 'conv' && r.upsample === 1 && r.phases.length === 1 && r.inputTransform === 'direct',
      );
      if (readers.length === 0 || !fusable) continue; // left in the graph: lowering refuses it with its name
      for (const reader of readers as IrConv[]) {
        reader.phases = phasesForUpsampledInput(reader, layer.factor);
        reader.upsample = layer.factor;
        reader.input = layer.input;
      }
      removeLayer(graph, layer);
    }
  },
};
