import type { onnx as OnnxTypes } from 'onnx-proto';
import { onnx } from './onnx.js';

/**
 * A small typed writer of ONNX models (opset 17), for tests, exporters and the FP16 converter's tests. It knows the
 * handful of operators smlm-rt's networks use and writes them the way PyTorch's exporter does (Resize with an empty
 * roi and a `scales` tensor, Clip with min/max as inputs), so code that reads models is exercised on realistic graphs.
 *
 * Tensor names are generated and unique; every op helper returns the name of its output.
 */

export const OPSET_VERSION = 17;
/** onnx-proto ships ONNX 1.10's schema: IR version 8, enough for opset 17. */
export const IR_VERSION = 8;

export const TensorElementType = {
  FLOAT: onnx.TensorProto.DataType.FLOAT,
  FLOAT16: onnx.TensorProto.DataType.FLOAT16,
  INT64: onnx.TensorProto.DataType.INT64,
} as const;

/** One attribute value, tagged with its ONNX type (a JS number alone cannot say int or float). */
export type OnnxAttribute =
  | { kind: 'int'; value: number }
  | { kind: 'ints'; value: number[] }
  | { kind: 'float'; value: number }
  | { kind: 'floats'; value: number[] }
  | { kind: 'string'; value: string }
  | { kind: 'tensor'; value: OnnxTypes.ITensorProto };

/** Shorthands for attribute values: `attr.ints([1, 1])`. */
export const attr = {
  int: (value: number): OnnxAttribute => ({ kind: 'int', value }),
  ints: (value: number[]): OnnxAttribute => ({ kind: 'ints', value }),
  float: (value: number): OnnxAttribute => ({ kind: 'float', value }),
  floats: (value: number[]): OnnxAttribute => ({ kind: 'floats', value }),
  string: (value: string): OnnxAttribute => ({ kind: 'string', value }),
  tensor: (value: OnnxTypes.ITensorProto): OnnxAttribute => ({ kind: 'tensor', value }),
};

/** A dimension: a fixed size or a symbolic name (dynamic axis). */
export type OnnxDim = number | string;

function bytesOf(view: ArrayBufferView): Uint8Array {
  // Copy: the proto must not alias a caller's array that may change later.
  return new Uint8Array(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength));
}

/** A float32 tensor proto (raw little-endian data, as exporters write it). */
export function floatTensor(name: string, dims: number[], data: ArrayLike<number>): OnnxTypes.ITensorProto {
  const count = dims.reduce((a, b) => a * b, 1);
  if (data.length !== count) throw new Error(`tensor ${name}: ${data.length} values for dims [${dims}]`);
  return { name, dims, dataType: TensorElementType.FLOAT, rawData: bytesOf(Float32Array.from(data)) };
}

/** An int64 tensor proto. */
export function int64Tensor(name: string, dims: number[], data: ArrayLike<number>): OnnxTypes.ITensorProto {
  const count = dims.reduce((a, b) => a * b, 1);
  if (data.length !== count) throw new Error(`tensor ${name}: ${data.length} values for dims [${dims}]`);
  return { name, dims, dataType: TensorElementType.INT64, rawData: bytesOf(BigInt64Array.from(Array.from(data, (v) => BigInt(v)))) };
}

function attributeProto(name: string, a: OnnxAttribute): OnnxTypes.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.kind) {
    case 'int':
      return { name, type: T.INT, i: a.value };
    case 'ints':
      return { name, type: T.INTS, ints: a.value };
    case 'float':
      return { name, type: T.FLOAT, f: a.value };
    case 'floats':
      return { name, type: T.FLOATS, floats: a.value };
    case 'string':
      return { name, type: T.STRING, s: new TextEncoder().encode(a.value) };
    case 'tensor':
      return { name, type: T.TENSOR, t: a.value };
  }
}

function valueInfo(name: string, dims: OnnxDim[], elemType: number): OnnxTypes.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

export interface ConvParams {
  /** OIHW: [cout, cin / group, kh, kw]. */
  weight: Float32Array;
  weightDims: [number, number, number, number];
  bias?: Float32Array;
  /** [top, left, bottom, right]; default: "same" padding for odd kernels. */
  pads?: [number, number, number, number];
  strides?: [number, number];
  dilations?: [number, number];
  group?: number;
}

export interface ConvTransposeParams {
  /** [cin, cout / group, kh, kw] (ONNX's ConvTranspose layout). */
  weight: Float32Array;
  weightDims: [number, number, number, number];
  bias?: Float32Array;
  strides: [number, number];
  pads?: [number, number, number, number];
}

export interface BatchNormParams {
  scale: Float32Array;
  bias: Float32Array;
  mean: Float32Array;
  variance: Float32Array;
  epsilon?: number;
}

export interface ResizeNearestOptions {
  /** Default 'asymmetric' (what torch exports for mode="nearest"). */
  coordinateTransformationMode?: string;
  /** Default 'floor' (torch). */
  nearestMode?: string;
  /** How the scales reach the node: an initializer (default) or a Constant node, as older exporters did. */
  scalesSource?: 'initializer' | 'constant';
  /** Give scales for all four axes (default) - the only form torch writes. */
  scales?: [number, number, number, number];
}

export interface BuildOptions {
  /** metadata_props (e.g. serializeModelMetadata(...)). */
  metadata?: Record<string, string>;
  graphName?: string;
  producerName?: string;
  opsetVersion?: number;
}

/** Builds one ONNX graph; call the op helpers in topological order, then `build()`. */
export class OnnxModelBuilder {
  private readonly nodes: OnnxTypes.INodeProto[] = [];
  private readonly initializers: OnnxTypes.ITensorProto[] = [];
  private readonly inputs: OnnxTypes.IValueInfoProto[] = [];
  private readonly outputs: OnnxTypes.IValueInfoProto[] = [];
  private readonly used = new Set<string>();
  private counter = 0;

  /** A fresh tensor/node name starting with `prefix`. */
  uniqueName(prefix: string): string {
    let name = `${prefix}_${this.counter++}`;
    while (this.used.has(name)) name = `${prefix}_${this.counter++}`;
    this.used.add(name);
    return name;
  }

  private claim(name: string): string {
    if (this.used.has(name)) throw new Error(`onnx-builder: name "${name}" used twice`);
    this.used.add(name);
    return name;
  }

  /** Declares a graph input and returns its name. */
  addInput(name: string, dims: OnnxDim[], elemType: number = TensorElementType.FLOAT): string {
    this.inputs.push(valueInfo(this.claim(name), dims, elemType));
    return name;
  }

  /**
   * Declares a graph output. When `from` is given and differs from `name`, an Identity node renames it (ONNX
   * requires graph outputs to be node outputs with that exact name).
   */
  addOutput(name: string, dims: OnnxDim[], from?: string, elemType: number = TensorElementType.FLOAT): string {
    if (from !== undefined && from !== name) this.node('Identity', [from], {}, { outputs: [name] });
    else if (!this.used.has(name)) this.used.add(name);
    this.outputs.push(valueInfo(name, dims, elemType));
    return name;
  }

  /** Adds a float32 initializer; returns its (unique) name. */
  addFloatInitializer(prefix: string, dims: number[], data: ArrayLike<number>): string {
    const name = this.uniqueName(prefix);
    this.initializers.push(floatTensor(name, dims, data));
    return name;
  }

  addInt64Initializer(prefix: string, dims: number[], data: ArrayLike<number>): string {
    const name = this.uniqueName(prefix);
    this.initializers.push(int64Tensor(name, dims, data));
    return name;
  }

  /**
   * Adds any node. `outputs` is a count (names generated) or explicit names; returns the output names.
   * Inputs may be '' for an omitted optional input.
   */
  node(
    opType: string,
    inputs: string[],
    attributes: Record<string, OnnxAttribute> = {},
    options: { outputs?: number | string[]; name?: string } = {},
  ): string[] {
    const outputs =
      typeof options.outputs === 'object'
        ? options.outputs.map((n) => this.claim(n))
        : Array.from({ length: options.outputs ?? 1 }, () => this.uniqueName(opType.toLowerCase()));
    this.nodes.push({
      opType,
      name: options.name ?? this.uniqueName(opType),
      input: inputs,
      output: outputs,
      attribute: Object.entries(attributes).map(([k, v]) => attributeProto(k, v)),
    });
    return outputs;
  }

  /** A Constant node holding `tensor` (its name is replaced by the node's output name). */
  constant(tensor: Omit<OnnxTypes.ITensorProto, 'name'>): string {
    return this.node('Constant', [], { value: attr.tensor({ ...tensor }) })[0];
  }

  conv(x: string, p: ConvParams): string {
    const [cout, , kh, kw] = p.weightDims;
    const w = this.addFloatInitializer('conv_weight', p.weightDims, p.weight);
    const inputs = [x, w];
    if (p.bias) {
      if (p.bias.length !== cout) throw new Error(`conv bias: ${p.bias.length} values for ${cout} channels`);
      inputs.push(this.addFloatInitializer('conv_bias', [cout], p.bias));
    }
    const pads = p.pads ?? [(kh - 1) >> 1, (kw - 1) >> 1, kh >> 1, kw >> 1];
    return this.node('Conv', inputs, {
      dilations: attr.ints(p.dilations ?? [1, 1]),
      group: attr.int(p.group ?? 1),
      kernel_shape: attr.ints([kh, kw]),
      pads: attr.ints(pads),
      strides: attr.ints(p.strides ?? [1, 1]),
    })[0];
  }

  convTranspose(x: string, p: ConvTransposeParams): string {
    const [, coutPerGroup, kh, kw] = p.weightDims;
    const w = this.addFloatInitializer('convt_weight', p.weightDims, p.weight);
    const inputs = [x, w];
    if (p.bias) {
      if (p.bias.length !== coutPerGroup) throw new Error(`convTranspose bias: ${p.bias.length} values for ${coutPerGroup} channels`);
      inputs.push(this.addFloatInitializer('convt_bias', [coutPerGroup], p.bias));
    }
    return this.node('ConvTranspose', inputs, {
      dilations: attr.ints([1, 1]),
      group: attr.int(1),
      kernel_shape: attr.ints([kh, kw]),
      pads: attr.ints(p.pads ?? [0, 0, 0, 0]),
      strides: attr.ints(p.strides),
    })[0];
  }

  batchNorm(x: string, p: BatchNormParams): string {
    const c = p.scale.length;
    return this.node(
      'BatchNormalization',
      [
        x,
        this.addFloatInitializer('bn_scale', [c], p.scale),
        this.addFloatInitializer('bn_bias', [c], p.bias),
        this.addFloatInitializer('bn_mean', [c], p.mean),
        this.addFloatInitializer('bn_var', [c], p.variance),
      ],
      { epsilon: attr.float(p.epsilon ?? 1e-5), momentum: attr.float(0.9) },
    )[0];
  }

  relu(x: string): string {
    return this.node('Relu', [x])[0];
  }

  /** MaxPool with a square kernel and stride, no padding, floor rounding (torch's nn.MaxPool2d(k)). */
  maxPool(x: string, kernel = 2, stride = kernel): string {
    return this.node('MaxPool', [x], {
      ceil_mode: attr.int(0),
      kernel_shape: attr.ints([kernel, kernel]),
      pads: attr.ints([0, 0, 0, 0]),
      strides: attr.ints([stride, stride]),
    })[0];
  }

  /** Nearest-neighbour Resize by an integer (or any) factor, written as torch.onnx.export (opset 17) writes it. */
  resizeNearest(x: string, scale: number, options: ResizeNearestOptions = {}): string {
    const scales = options.scales ?? [1, 1, scale, scale];
    const scalesName =
      options.scalesSource === 'constant'
        ? this.constant({ dims: [4], dataType: TensorElementType.FLOAT, floatData: scales })
        : this.addFloatInitializer('resize_scales', [4], scales);
    return this.node('Resize', [x, '', scalesName], {
      coordinate_transformation_mode: attr.string(options.coordinateTransformationMode ?? 'asymmetric'),
      cubic_coeff_a: attr.float(-0.75),
      mode: attr.string('nearest'),
      nearest_mode: attr.string(options.nearestMode ?? 'floor'),
    })[0];
  }

  concat(xs: string[], axis = 1): string {
    return this.node('Concat', xs, { axis: attr.int(axis) })[0];
  }

  depthToSpace(x: string, blocksize: number, mode: 'CRD' | 'DCR' = 'CRD'): string {
    return this.node('DepthToSpace', [x], { blocksize: attr.int(blocksize), mode: attr.string(mode) })[0];
  }

  /** Clip (opset >= 11: bounds are optional inputs). Omitted bound = unbounded. */
  clip(x: string, min?: number, max?: number): string {
    const scalar = (v: number | undefined) => (v === undefined ? '' : this.addFloatInitializer('clip_bound', [], [v]));
    const inputs = [x, scalar(min), scalar(max)];
    while (inputs[inputs.length - 1] === '') inputs.pop();
    return this.node('Clip', inputs)[0];
  }

  reshape(x: string, shape: number[]): string {
    return this.node('Reshape', [x, this.addInt64Initializer('shape', [shape.length], shape)])[0];
  }

  transpose(x: string, perm: number[]): string {
    return this.node('Transpose', [x], { perm: attr.ints(perm) })[0];
  }

  /** Serializes the model. */
  build(options: BuildOptions = {}): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      producerName: options.producerName ?? 'smlm-rt onnx-builder',
      opsetImport: [{ domain: '', version: options.opsetVersion ?? OPSET_VERSION }],
      graph: {
        name: options.graphName ?? 'smlm_rt',
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
      metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
    });
    return onnx.ModelProto.encode(model).finish();
  }
}
