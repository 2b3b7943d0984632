import { hasSingleConsumer, producerOf, removeLayer, renameTensor, type GraphPass } from './ir.js';

/**
 * BatchNormalization (inference: y = x * scale + shift per channel) folded into the convolution that produces its
 * input: W'[co] = W[co] * scale[co], b'[co] = b[co] * scale[co] + shift[co], for every phase. Exact up to rounding.
 * Only when the conv's output feeds nothing else (otherwise the other readers need the un-normalized values).
 */
export const foldBatchNorm: GraphPass = {
  name: 'fold-batchnorm',
  run(graph) {
    for (const layer of [...graph.layers]) {
      if (layer.kind !== 'affine') continue;
      const conv = producerOf(graph, layer.input);
      if (!conv || conv.kind !== 'conv' || conv.relu || !hasSingleConsumer(graph, conv.output)) continue;
      const { cin } = conv;
      for (const phase of conv.phases) {
        const perOut = phase.kh * phase.kw * cin;
        for (let co = 0; co < conv.cout; co++) {
          const s = layer.scale[co];
          for (let k = 0; k < perOut; k++) phase.weights[co * perOut + k] *= s;
        }
      }
      for (let co = 0; co < conv.cout; co++) conv.bias[co] = conv.bias[co] * layer.scale[co] + layer.shift[co];
      removeLayer(graph, layer);
      renameTensor(graph, layer.output, conv.output);
    }
  },
};
