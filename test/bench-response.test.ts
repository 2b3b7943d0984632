import { describe, expect, it } from 'vitest';
import { meanResponse } from '../benchmarks/response.js';

describe('bench:response meanResponse', () => {
  const width = 16;
  const height = 16;
  // Two emitters at fine pixels (5, 5) and (10, 8); fine pixel j covers [12.5 j, 12.5 (j + 1)) nm.
  const emitters = [
    { frame: 1, xNm: 5 * 12.5 + 3, yNm: 5 * 12.5 + 9 },
    { frame: 1, xNm: 10 * 12.5 + 12, yNm: 8 * 12.5 },
  ];

  it('reads a map of exact spikes as all centre', () => {
    const image = new Float32Array(width * height);
    image[5 * width + 5] = 2;
    image[8 * width + 10] = 2;
    expect(meanResponse(image, width, height, emitters, 0.5)).toEqual({ centre: 1, edges: 0, corners: 0, emitters: 2 });
  });

  it('splits a blob into centre, edge and corner means and skips emitters on the border', () => {
    const image = new Float32Array(width * height);
    for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) image[(5 + dy) * width + 5 + dx] = dx === 0 && dy === 0 ? 4 : dx === 0 || dy === 0 ? 2 : 1;
    const r = meanResponse(image, width, height, [emitters[0], { frame: 1, xNm: 0, yNm: 100 }], 1);
    expect(r).toEqual({ centre: 4, edges: 2, corners: 1, emitters: 1 });
  });
});
