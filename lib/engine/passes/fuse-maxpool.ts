import { consumersOf, removeLayer, type GraphPass, type IrConv } from './ir.js';

/** MaxPool 2x2/s2 feeding convolutions becomes their 'maxpool2' input transform (pooled on load, never stored). */
export const fuseMaxPoolIntoConv: GraphPass = {
  name: 'fuse-maxpool-into-conv',
  run(graph) {
    for (const layer of [...graph.layers]) {
      if (layer.kind !== 'maxpool2' || layer.output === graph.output || layer.input === graph.input) continue;
      const readers = consumersOf(graph, layer.output);
      if (readers.length === 0 || !readers.every((r) => r.kind === 'conv' && r.inputTransform === 'direct')) continue;
      for (const reader of readers as IrConv[]) {
        reader.inputTransform = 'maxpool2';
        reader.input = layer.input;
      }
      removeLayer(graph, layer);
    }
  },
};
