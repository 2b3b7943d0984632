import { hasSingleConsumer, producerOf, removeLayer, renameTensor, type GraphPass } from './ir.js';

/** Conv + bias + ReLU as one op: the ReLU becomes the conv's epilogue when the conv's output feeds only the ReLU. */
export const fuseRelu: GraphPass = {
  name: 'fuse-relu',
  run(graph) {
    for (const layer of [...graph.layers]) {
      if (layer.kind !== 'relu') continue;
      const conv = producerOf(graph, layer.input);
      if (!conv || conv.kind !== 'conv' || !hasSingleConsumer(graph, conv.output)) continue;
      conv.relu = true;
      removeLayer(graph, layer);
      renameTensor(graph, layer.output, conv.output);
    }
  },
};
