import { hasSingleConsumer, producerOf, removeLayer, type GraphPass, type IrReshape } from './ir.js';
import { symEqual, symNumber, symScale } from './symbolic.js';

/**
 * A pixel shuffle written by hand in torch (x.reshape(n, a1, a2, a3, h, w).permute(...).reshape(n, 1, h*s, w*s)),
 * exported as Reshape -> Transpose -> Reshape, becomes one pixel-shuffle layer. Shapes were resolved symbolically by
 * the parser, so the pattern is checked exactly: batch, height and width stay in place, the channel axis splits into
 * three factors (one of size 1, two of size s), and the permutation interleaves the two s-axes after h and after w.
 */
export const recognizePixelShuffle: GraphPass = {
  name: 'recognize-pixel-shuffle',
  run(graph) {
    for (const last of [...graph.layers]) {
      if (last.kind !== 'reshape') continue;
      const transpose = producerOf(graph, last.input);
      if (!transpose || transpose.kind !== 'transpose' || !hasSingleConsumer(graph, transpose.output)) continue;
      const first = producerOf(graph, transpose.input);
      if (!first || first.kind !== 'reshape' || !hasSingleConsumer(graph, first.output)) continue;
      const match = matchPixelShuffle(graph.shapes.get(first.input), first, transpose.perm, last);
      if (!match) continue;
      for (const layer of [first, transpose]) removeLayer(graph, layer);
      const index = graph.layers.indexOf(last);
      graph.layers[index] = {
        kind: 'pixelshuffle',
        opType: 'Reshape/Transpose/Reshape',
        nodeName: first.nodeName,
        input: first.input,
        output: last.output,
        factor: match.factor,
        channelOf: match.channelOf,
      };
    }
  },
};

function matchPixelShuffle(
  inShape: IrReshape['shape'] | undefined,
  first: IrReshape,
  perm: number[],
  last: IrReshape,
): { factor: number; channelOf: number[] } | undefined {
  const split = first.shape;
  if (!inShape || inShape.length !== 4 || split.length !== 6 || perm.length !== 6 || last.shape.length !== 4) return undefined;
  const [n, c, h, w] = inShape;
  if (!symEqual(split[0], n) || !symEqual(split[4], h) || !symEqual(split[5], w)) return undefined;
  if (perm[0] !== 0 || perm[2] !== 4 || perm[4] !== 5) return undefined;
  const sizes = split.slice(1, 4).map(symNumber);
  if (sizes.some((v) => v === undefined)) return undefined;
  const size = (axis: number) => sizes[axis - 1] as number;
  const [oneAxis, rowAxis, colAxis] = [perm[1], perm[3], perm[5]];
  if (new Set([oneAxis, rowAxis, colAxis]).size !== 3 || ![oneAxis, rowAxis, colAxis].every((a) => a >= 1 && a <= 3)) return undefined;
  const s = size(rowAxis);
  if (size(oneAxis) !== 1 || size(colAxis) !== s || symNumber(c) !== s * s) return undefined;
  const [outN, outC, outH, outW] = last.shape;
  if (!symEqual(outN, n) || symNumber(outC) !== 1 || !symEqual(outH, symScale(h, s)) || !symEqual(outW, symScale(w, s))) return undefined;
  const channelOf: number[] = [];
  for (let i = 0; i < s; i++) {
    for (let j = 0; j < s; j++) {
      const coord = [0, 0, 0, 0];
      coord[rowAxis] = i;
      coord[colAxis] = j;
      channelOf.push((coord[1] * size(2) + coord[2]) * size(3) + coord[3]);
    }
  }
  return { factor: s, channelOf };
}
