import type { onnx as OnnxTypes } from 'onnx-proto';
import { SmlmError } from '../../errors.js';
import type { OnnxModelProto } from '../../model/onnx.js';
import { unsupported, type IrGraph, type IrLayer, type IrOrigin, type IrPhase, type SymDim } from './ir.js';
import {
  attributesOf,
  constantNodeValue,
  decodeTensor,
  floatAttr,
  intAttr,
  intsAttr,
  stringAttr,
  toNumber,
  type AttributeMap,
  type ConstTensor,
} from '../../model/onnx-values.js';
import { isNearestReplicate } from './resize-semantics.js';
import { symConst, symDiv, symEqual, symMul, symNumber, symProduct, symScale, symToString, symVar } from './symbolic.js';

/**
 * ONNX graph -> IrGraph. Constants (initializers, Constant nodes) and shape arithmetic (Shape, Gather, Unsqueeze,
 * Concat, Mul, ... on int64 shape vectors, as torch's exporter writes for dynamic sizes) are evaluated here;
 * Identity and inference-mode Dropout disappear; every other node becomes an IR layer or is refused with its name.
 */

type Value =
  | { kind: 'const'; tensor: ConstTensor }
  /** An int64 shape vector (or scalar, rank 0) known symbolically. */
  | { kind: 'shape'; dims: SymDim[]; scalar: boolean }
  | { kind: 'activation'; shape: SymDim[] };

class Parser {
  private readonly values = new Map<string, Value>();
  private readonly aliases = new Map<string, string>();
  private readonly layers: IrLayer[] = [];
  private readonly shapes = new Map<string, SymDim[]>();

  constructor(private readonly source: string) {}

  private invalid(message: string, details: Record<string, unknown> = {}): SmlmError {
    return new SmlmError('E_MODEL_INVALID', `${this.source}: ${message}`, { source: this.source, ...details });
  }

  resolve(name: string): string {
    return this.aliases.get(name) ?? name;
  }

  private value(name: string, origin: IrOrigin): Value {
    const v = this.values.get(this.resolve(name));
    if (!v) throw unsupported(origin, `input "${name}" is not produced by any earlier node (graph not topologically sorted?)`, this.source);
    return v;
  }

  private constant(name: string | undefined, origin: IrOrigin, what: string): ConstTensor {
    const v = name ? this.values.get(this.resolve(name)) : undefined;
    if (!v || v.kind !== 'const') throw unsupported(origin, `${what} must be a constant (initializer or Constant node)`, this.source);
    return v.tensor;
  }

  private optionalConstant(name: string | undefined, origin: IrOrigin, what: string): ConstTensor | undefined {
    if (!name) return undefined;
    return this.constant(name, origin, what);
  }

  private activationShape(name: string, origin: IrOrigin): SymDim[] {
    const v = this.value(name, origin);
    if (v.kind !== 'activation') throw unsupported(origin, `input "${name}" must be a tensor computed from the frames`, this.source);
    return v.shape;
  }

  private setActivation(name: string, shape: SymDim[]): void {
    this.values.set(name, { kind: 'activation', shape });
    this.shapes.set(name, shape);
  }

  private channels(shape: SymDim[], origin: IrOrigin): number {
    const c = shape.length === 4 ? symNumber(shape[1]) : undefined;
    if (c === undefined) throw unsupported(origin, `expects a 4-D NCHW input with a known channel count, got [${shape.map(symToString)}]`, this.source);
    return c;
  }

  /** Integer shape vector (constant or symbolic) of an input, or undefined when it is neither. */
  private shapeVector(name: string | undefined): { dims: SymDim[]; scalar: boolean } | undefined {
    if (!name) return undefined;
    const v = this.values.get(this.resolve(name));
    if (!v) return undefined;
    if (v.kind === 'shape') return v;
    // Float constants take part too: exporters scale sizes as Cast(float) * scale -> Floor -> Cast(int64).
    if (v.kind === 'const' && v.tensor.dims.length <= 1) {
      return { dims: Array.from(v.tensor.values, symConst), scalar: v.tensor.dims.length === 0 };
    }
    return undefined;
  }

  addInitializers(initializers: OnnxTypes.ITensorProto[]): void {
    for (const t of initializers) {
      const tensor = decodeTensor(t);
      if (tensor && t.name) this.values.set(t.name, { kind: 'const', tensor });
    }
  }

  addFrameInput(name: string): void {
    this.setActivation(name, [symVar('N'), symConst(1), symVar('H'), symVar('W')]);
  }

  parseNode(node: OnnxTypes.INodeProto, index: number): void {
    const opType = node.opType ?? '';
    const origin: IrOrigin = { opType, nodeName: node.name || `${opType}_${index}` };
    const inputs = (node.input ?? []).map((n) => (n ? this.resolve(n) : ''));
    const outputs = node.output ?? [];
    const attrs = attributesOf(node);
    if (node.domain && node.domain !== 'ai.onnx') throw unsupported(origin, `custom domain "${node.domain}"`, this.source);

    if (opType === 'Constant') {
      const tensor = constantNodeValue(node);
      if (!tensor) throw unsupported(origin, 'a Constant of an unsupported type', this.source);
      this.values.set(outputs[0], { kind: 'const', tensor });
      return;
    }
    if (opType === 'Identity' || opType === 'Dropout') {
      if (outputs.slice(1).some((o) => o)) throw unsupported(origin, 'the Dropout mask output is used', this.source);
      this.aliases.set(outputs[0], inputs[0]);
      return;
    }
    if (this.tryShapeArithmetic(opType, inputs, outputs, attrs, origin)) return;

    const x = inputs[0];
    const shape = this.activationShape(x, origin);
    const out = outputs[0];
    if (outputs.slice(1).some((o) => o)) throw unsupported(origin, 'only the first output may be used', this.source);
    switch (opType) {
      case 'Conv':
        return this.parseConv(origin, x, inputs, out, attrs, shape);
      case 'ConvTranspose':
        return this.parseConvTranspose(origin, x, inputs, out, attrs, shape);
      case 'BatchNormalization':
        return this.parseBatchNorm(origin, x, inputs, out, attrs, shape);
      case 'Relu':
        this.layers.push({ ...origin, kind: 'relu', input: x, output: out });
        return this.setActivation(out, shape);
      case 'Clip':
        return this.parseClip(origin, x, inputs, out, attrs, shape);
      case 'MaxPool':
        return this.parseMaxPool(origin, x, out, attrs, shape);
      case 'Resize':
        return this.parseResize(origin, x, inputs, out, attrs, shape);
      case 'Concat':
        return this.parseConcat(origin, inputs, out, attrs);
      case 'DepthToSpace':
        return this.parseDepthToSpace(origin, x, out, attrs, shape);
      case 'Reshape':
        return this.parseReshape(origin, x, inputs, out, attrs, shape);
      case 'Transpose': {
        const perm = intsAttr(attrs, 'perm', shape.map((_, i) => shape.length - 1 - i));
        this.layers.push({ ...origin, kind: 'transpose', input: x, output: out, perm });
        return this.setActivation(out, perm.map((p) => shape[p]));
      }
      default:
        throw unsupported(origin, 'no rewrite exists for it (supported: Conv, ConvTranspose, BatchNormalization, Relu, Clip, MaxPool, Resize, Concat, DepthToSpace, pixel-shuffle Reshape/Transpose)', this.source);
    }
  }

  /** Evaluates int64 shape computations; returns false when the node is not one (or its inputs are not shapes). */
  private tryShapeArithmetic(opType: string, inputs: string[], outputs: string[], attrs: AttributeMap, origin: IrOrigin): boolean {
    const set = (dims: SymDim[], scalar = false) => this.values.set(outputs[0], { kind: 'shape', dims, scalar });
    switch (opType) {
      case 'Shape': {
        const v = this.values.get(inputs[0]);
        if (!v || v.kind !== 'activation') return false;
        const start = intAttr(attrs, 'start', 0);
        const end = attrs.has('end') ? intAttr(attrs, 'end', 0) : v.shape.length;
        set(v.shape.slice(start < 0 ? start + v.shape.length : start, end < 0 ? end + v.shape.length : end));
        return true;
      }
      case 'Gather': {
        const data = this.shapeVector(inputs[0]);
        const idx = this.shapeVector(inputs[1]);
        if (!data || data.scalar || !idx || intAttr(attrs, 'axis', 0) !== 0) return false;
        const picked = idx.dims.map((d) => {
          const i = symNumber(d);
          if (i === undefined) throw unsupported(origin, 'symbolic gather index', this.source);
          return data.dims[i < 0 ? i + data.dims.length : i];
        });
        set(picked, idx.scalar);
        return true;
      }
      case 'Unsqueeze': {
        const v = this.shapeVector(inputs[0]);
        if (!v) return false;
        if (!v.scalar) throw unsupported(origin, 'Unsqueeze of a shape vector', this.source);
        set(v.dims, false);
        return true;
      }
      case 'Squeeze': {
        const v = this.shapeVector(inputs[0]);
        if (!v) return false;
        if (v.dims.length !== 1) throw unsupported(origin, 'Squeeze of a shape vector with more than one element', this.source);
        set(v.dims, true);
        return true;
      }
      case 'Cast': {
        const v = this.shapeVector(inputs[0]);
        if (!v) return false;
        set(v.dims, v.scalar);
        return true;
      }
      case 'Floor':
      case 'Ceil': {
        const v = this.shapeVector(inputs[0]);
        if (!v) return false;
        const round = opType === 'Floor' ? Math.floor : Math.ceil;
        const dims = v.dims.map((d) => {
          if (symNumber(d) !== undefined) return symConst(round(d.coef));
          if (!Number.isInteger(d.coef)) throw unsupported(origin, `cannot evaluate ${opType}(${symToString(d)}) at compile time`, this.source);
          return d;
        });
        set(dims, v.scalar);
        return true;
      }
      case 'Concat': {
        const parts = inputs.map((i) => this.shapeVector(i));
        if (parts.some((p) => !p)) return false;
        set(parts.flatMap((p) => p!.dims));
        return true;
      }
      case 'Slice': {
        const v = this.shapeVector(inputs[0]);
        if (!v) return false;
        const num = (n: string | undefined, fallback: number) => {
          const s = this.shapeVector(n);
          const x = s ? symNumber(s.dims[0]) : fallback;
          if (x === undefined) throw unsupported(origin, 'symbolic slice bounds', this.source);
          return x;
        };
        const len = v.dims.length;
        const clampIndex = (i: number) => Math.min(Math.max(i < 0 ? i + len : i, 0), len);
        const step = num(inputs[4], 1);
        if (step !== 1) throw unsupported(origin, 'Slice with a step other than 1 on a shape vector', this.source);
        set(v.dims.slice(clampIndex(num(inputs[1], 0)), clampIndex(num(inputs[2], len))));
        return true;
      }
      case 'Mul':
      case 'Div':
      case 'Add':
      case 'Sub': {
        const a = this.shapeVector(inputs[0]);
        const b = this.shapeVector(inputs[1]);
        if (!a || !b) return false;
        const n = Math.max(a.dims.length, b.dims.length);
        const at = (v: { dims: SymDim[] }, i: number) => v.dims[v.dims.length === 1 ? 0 : i];
        const dims: SymDim[] = [];
        for (let i = 0; i < n; i++) {
          const x = at(a, i);
          const y = at(b, i);
          let r: SymDim | undefined;
          if (opType === 'Mul') r = symMul(x, y);
          else if (opType === 'Div') r = symDiv(x, y);
          else if (symNumber(x) !== undefined && symNumber(y) !== undefined) r = symConst(opType === 'Add' ? x.coef + y.coef : x.coef - y.coef);
          if (!r) throw unsupported(origin, `cannot evaluate ${symToString(x)} ${opType} ${symToString(y)} at compile time`, this.source);
          dims.push(r);
        }
        set(dims, a.scalar && b.scalar);
        return true;
      }
      default:
        return false;
    }
  }

  private parseConv(origin: IrOrigin, x: string, inputs: string[], out: string, attrs: AttributeMap, shape: SymDim[]): void {
    const w = this.constant(inputs[1], origin, 'the weight');
    const b = this.optionalConstant(inputs[2], origin, 'the bias');
    if (w.dims.length !== 4) throw unsupported(origin, `only 2-D convolutions are supported (weight rank ${w.dims.length})`, this.source);
    const [cout, cin, kh, kw] = w.dims;
    if (intAttr(attrs, 'group', 1) !== 1) throw unsupported(origin, 'grouped convolution', this.source);
    if (intsAttr(attrs, 'strides', [1, 1]).some((s) => s !== 1)) throw unsupported(origin, 'strided convolution (use MaxPool)', this.source);
    if (intsAttr(attrs, 'dilations', [1, 1]).some((d) => d !== 1)) throw unsupported(origin, 'dilated convolution', this.source);
    const inputChannels = this.channels(shape, origin);
    if (inputChannels !== cin) throw unsupported(origin, `weight expects ${cin} input channels, the input has ${inputChannels}`, this.source);
    const autoPad = stringAttr(attrs, 'auto_pad', 'NOTSET');
    let pads: number[];
    if (autoPad === 'NOTSET') pads = intsAttr(attrs, 'pads', [0, 0, 0, 0]);
    else if (autoPad === 'VALID') pads = [0, 0, 0, 0];
    else if (autoPad === 'SAME_UPPER') pads = [(kh - 1) >> 1, (kw - 1) >> 1, kh >> 1, kw >> 1];
    else if (autoPad === 'SAME_LOWER') pads = [kh >> 1, kw >> 1, (kh - 1) >> 1, (kw - 1) >> 1];
    else throw unsupported(origin, `auto_pad "${autoPad}"`, this.source);
    const [padTop, padLeft, padBottom, padRight] = pads;
    // The plan's convolutions keep the spatial size: only "same" padding has an equivalent.
    if (padTop + padBottom !== kh - 1 || padLeft + padRight !== kw - 1) {
      throw unsupported(origin, `padding [${pads}] with a ${kh}x${kw} kernel changes the spatial size (only size-preserving convolutions are supported)`, this.source);
    }
    const weights = new Float32Array(cout * kh * kw * cin);
    for (let co = 0; co < cout; co++)
      for (let ci = 0; ci < cin; ci++)
        for (let y = 0; y < kh; y++)
          for (let xk = 0; xk < kw; xk++) weights[((co * kh + y) * kw + xk) * cin + ci] = w.values[((co * cin + ci) * kh + y) * kw + xk];
    this.pushConv(origin, x, out, cin, cout, 1, [{ phaseY: 0, phaseX: 0, kh, kw, padTop, padLeft, weights }], b?.values);
    this.setActivation(out, [shape[0], symConst(cout), shape[2], shape[3]]);
  }

  /** ConvTranspose with kernel == stride and no padding: s*s phases of 1x1 convolutions (each output pixel sees one input pixel). */
  private parseConvTranspose(origin: IrOrigin, x: string, inputs: string[], out: string, attrs: AttributeMap, shape: SymDim[]): void {
    const w = this.constant(inputs[1], origin, 'the weight');
    const b = this.optionalConstant(inputs[2], origin, 'the bias');
    if (w.dims.length !== 4) throw unsupported(origin, `only 2-D transposed convolutions are supported`, this.source);
    const [cin, cout, kh, kw] = w.dims;
    const strides = intsAttr(attrs, 'strides', [1, 1]);
    if (intAttr(attrs, 'group', 1) !== 1) throw unsupported(origin, 'grouped transposed convolution', this.source);
    if (kh !== kw || strides[0] !== kh || strides[1] !== kw) {
      throw unsupported(origin, `only kernel == stride (square) is supported, got kernel ${kh}x${kw} stride ${strides}`, this.source);
    }
    if (intsAttr(attrs, 'pads', [0, 0, 0, 0]).some((p) => p !== 0)) throw unsupported(origin, 'padding', this.source);
    if (intsAttr(attrs, 'output_padding', [0, 0]).some((p) => p !== 0)) throw unsupported(origin, 'output_padding', this.source);
    if (intsAttr(attrs, 'dilations', [1, 1]).some((d) => d !== 1)) throw unsupported(origin, 'dilation', this.source);
    if (attrs.has('output_shape')) throw unsupported(origin, 'output_shape', this.source);
    const autoPad = stringAttr(attrs, 'auto_pad', 'NOTSET');
    if (autoPad !== 'NOTSET' && autoPad !== 'VALID') throw unsupported(origin, `auto_pad "${autoPad}"`, this.source);
    const inputChannels = this.channels(shape, origin);
    if (inputChannels !== cin) throw unsupported(origin, `weight expects ${cin} input channels, the input has ${inputChannels}`, this.source);
    const s = kh;
    const phases: IrPhase[] = [];
    for (let py = 0; py < s; py++) {
      for (let px = 0; px < s; px++) {
        const weights = new Float32Array(cout * cin);
        for (let co = 0; co < cout; co++) for (let ci = 0; ci < cin; ci++) weights[co * cin + ci] = w.values[((ci * cout + co) * kh + py) * kw + px];
        phases.push({ phaseY: py, phaseX: px, kh: 1, kw: 1, padTop: 0, padLeft: 0, weights });
      }
    }
    this.pushConv(origin, x, out, cin, cout, s, phases, b?.values);
    this.setActivation(out, [shape[0], symConst(cout), symScale(shape[2], s), symScale(shape[3], s)]);
  }

  /** A conv layer as both Conv and ConvTranspose parse into: no ReLU or pooling fused yet (later passes add them), zero bias when absent. */
  private pushConv(origin: IrOrigin, input: string, output: string, cin: number, cout: number, upsample: number, phases: IrPhase[], bias: ArrayLike<number> | undefined): void {
    this.layers.push({
      ...origin,
      kind: 'conv',
      input,
      output,
      cin,
      cout,
      upsample,
      phases,
      bias: bias ? Float32Array.from(bias) : new Float32Array(cout),
      relu: false,
      inputTransform: 'direct',
    });
  }

  private parseBatchNorm(origin: IrOrigin, x: string, inputs: string[], out: string, attrs: AttributeMap, shape: SymDim[]): void {
    if (intAttr(attrs, 'training_mode', 0) !== 0) throw unsupported(origin, 'training mode', this.source);
    const [gamma, beta, mean, variance] = [1, 2, 3, 4].map((i) => this.constant(inputs[i], origin, 'every BatchNormalization parameter'));
    const c = this.channels(shape, origin);
    if ([gamma, beta, mean, variance].some((t) => t.values.length !== c)) throw unsupported(origin, `parameters do not have ${c} channels`, this.source);
    const eps = floatAttr(attrs, 'epsilon', 1e-5);
    const scale = new Float32Array(c);
    const shift = new Float32Array(c);
    for (let i = 0; i < c; i++) {
      // Folded in float64, rounded once.
      const a = gamma.values[i] / Math.sqrt(variance.values[i] + eps);
      scale[i] = a;
      shift[i] = beta.values[i] - mean.values[i] * a;
    }
    this.layers.push({ ...origin, kind: 'affine', input: x, output: out, scale, shift });
    this.setActivation(out, shape);
  }

  private parseClip(origin: IrOrigin, x: string, inputs: string[], out: string, attrs: AttributeMap, shape: SymDim[]): void {
    const min = inputs[1] ? this.constant(inputs[1], origin, 'min').values[0] : floatAttr(attrs, 'min', -Infinity);
    const max = inputs[2] ? this.constant(inputs[2], origin, 'max').values[0] : floatAttr(attrs, 'max', Infinity);
    if (min !== 0 || max !== Infinity) throw unsupported(origin, `only Clip(min=0) (a ReLU) is supported, got [${min}, ${max}]`, this.source);
    this.layers.push({ ...origin, kind: 'relu', input: x, output: out });
    this.setActivation(out, shape);
  }

  private parseMaxPool(origin: IrOrigin, x: string, out: string, attrs: AttributeMap, shape: SymDim[]): void {
    const kernel = intsAttr(attrs, 'kernel_shape', []);
    const strides = intsAttr(attrs, 'strides', [1, 1]);
    const ok =
      kernel.length === 2 &&
      kernel.every((k) => k === 2) &&
      strides.every((s) => s === 2) &&
      intsAttr(attrs, 'pads', [0, 0, 0, 0]).every((p) => p === 0) &&
      intsAttr(attrs, 'dilations', [1, 1]).every((d) => d === 1) &&
      intAttr(attrs, 'storage_order', 0) === 0 &&
      ['NOTSET', 'VALID'].includes(stringAttr(attrs, 'auto_pad', 'NOTSET'));
    if (!ok) throw unsupported(origin, `only 2x2 / stride 2 max pooling without padding is supported (kernel [${kernel}], strides [${strides}])`, this.source);
    this.layers.push({ ...origin, kind: 'maxpool2', input: x, output: out });
    this.setActivation(out, [shape[0], shape[1], symScale(shape[2], 0.5), symScale(shape[3], 0.5)]);
  }

  private parseResize(origin: IrOrigin, x: string, inputs: string[], out: string, attrs: AttributeMap, shape: SymDim[]): void {
    const mode = stringAttr(attrs, 'mode', 'nearest');
    if (mode !== 'nearest') throw unsupported(origin, `mode "${mode}" (only nearest)`, this.source);
    if (shape.length !== 4) throw unsupported(origin, 'expects a 4-D input', this.source);
    let factors: number[];
    const scales = inputs[2] ? this.constant(inputs[2], origin, 'scales') : undefined;
    if (scales && scales.values.length > 0) {
      if (scales.values.length !== 4) throw unsupported(origin, `scales must have 4 values, got ${scales.values.length}`, this.source);
      factors = Array.from(scales.values);
    } else {
      const sizes = this.shapeVector(inputs[3]);
      if (!sizes || sizes.dims.length !== 4) throw unsupported(origin, 'needs constant scales or sizes computable at compile time', this.source);
      factors = sizes.dims.map((d, i) => {
        const q = symDiv(d, shape[i]);
        const f = q && symNumber(q);
        if (f === undefined) throw unsupported(origin, `size ${symToString(d)} is not a fixed multiple of ${symToString(shape[i])}`, this.source);
        return f;
      });
    }
    const [fn, fc, fy, fx] = factors;
    if (fn !== 1 || fc !== 1) throw unsupported(origin, 'resizes the batch or channel axis', this.source);
    if (!Number.isInteger(fy) || fy < 1 || fy !== fx) {
      throw unsupported(origin, `only equal integer scales on height and width are supported, got ${fy} x ${fx} (non-integer scale)`, this.source);
    }
    const ct = stringAttr(attrs, 'coordinate_transformation_mode', 'half_pixel');
    const nm = stringAttr(attrs, 'nearest_mode', 'round_prefer_floor');
    if (!isNearestReplicate(ct, nm, fy)) {
      throw unsupported(origin, `coordinate_transformation_mode "${ct}" with nearest_mode "${nm}" is not pixel replication at scale ${fy}`, this.source);
    }
    this.layers.push({ ...origin, kind: 'upsample', input: x, output: out, factor: fy });
    this.setActivation(out, [shape[0], shape[1], symScale(shape[2], fy), symScale(shape[3], fy)]);
  }

  private parseConcat(origin: IrOrigin, inputs: string[], out: string, attrs: AttributeMap): void {
    const shapes = inputs.map((i) => this.activationShape(i, origin));
    const axis = intAttr(attrs, 'axis', 1);
    if (shapes.some((s) => s.length !== 4) || (axis !== 1 && axis !== -3)) throw unsupported(origin, `only channel concatenation of NCHW tensors is supported (axis ${axis})`, this.source);
    for (const s of shapes.slice(1)) {
      if (!symEqual(s[2], shapes[0][2]) || !symEqual(s[3], shapes[0][3])) {
        throw unsupported(origin, `inputs of different spatial sizes ([${shapes.map((t) => t.map(symToString).join('x'))}])`, this.source);
      }
    }
    const channels = shapes.reduce((sum, s) => sum + this.channels(s, origin), 0);
    this.layers.push({ ...origin, kind: 'concat', inputs, output: out });
    this.setActivation(out, [shapes[0][0], symConst(channels), shapes[0][2], shapes[0][3]]);
  }

  private parseDepthToSpace(origin: IrOrigin, x: string, out: string, attrs: AttributeMap, shape: SymDim[]): void {
    const s = intAttr(attrs, 'blocksize', 0);
    const mode = stringAttr(attrs, 'mode', 'DCR');
    const c = this.channels(shape, origin);
    if (s < 1 || c !== s * s) throw unsupported(origin, `only DepthToSpace to one channel is supported (${c} channels, blocksize ${s})`, this.source);
    if (mode !== 'DCR' && mode !== 'CRD') throw unsupported(origin, `mode "${mode}"`, this.source);
    // With one output channel, CRD (c*s*s + i*s + j) and DCR ((i*s + j)*C + c) both read channel i*s + j.
    const channelOf = Array.from({ length: s * s }, (_, k) => k);
    this.layers.push({ ...origin, kind: 'pixelshuffle', input: x, output: out, factor: s, channelOf });
    this.setActivation(out, [shape[0], symConst(1), symScale(shape[2], s), symScale(shape[3], s)]);
  }

  private parseReshape(origin: IrOrigin, x: string, inputs: string[], out: string, attrs: AttributeMap, shape: SymDim[]): void {
    const target = this.shapeVector(inputs[1]);
    if (!target) throw unsupported(origin, 'the target shape cannot be computed at compile time', this.source);
    if (intAttr(attrs, 'allowzero', 0) !== 0) throw unsupported(origin, 'allowzero', this.source);
    const dims = target.dims.map((d, i) => (symNumber(d) === 0 ? shape[i] : d));
    const inferred = dims.findIndex((d) => symNumber(d) === -1);
    if (inferred >= 0) {
      const known = symProduct(dims.filter((_, i) => i !== inferred));
      const rest = symDiv(symProduct(shape), known);
      if (!rest) throw unsupported(origin, 'the -1 dimension cannot be inferred symbolically', this.source);
      dims[inferred] = rest;
    }
    if (!symEqual(symProduct(dims), symProduct(shape))) {
      throw unsupported(origin, `reshape of [${shape.map(symToString)}] to [${dims.map(symToString)}] changes the element count`, this.source);
    }
    this.layers.push({ ...origin, kind: 'reshape', input: x, output: out, shape: dims });
    this.setActivation(out, dims);
  }

  finish(input: string, output: string): IrGraph {
    const resolved = this.resolve(output);
    const v = this.values.get(resolved);
    if (!v || v.kind !== 'activation') throw this.invalid(`graph output "${output}" is not computed from the frames`);
    return { input, output: resolved, layers: this.layers, shapes: this.shapes };
  }
}

/** Parses a decoded ONNX model into the compiler's IR (nothing rewritten yet). */
export function parseOnnxGraph(proto: OnnxModelProto, source: string): IrGraph {
  const graph = proto.graph;
  if (!graph) throw new SmlmError('E_MODEL_INVALID', `${source}: ONNX file has no graph`, { source });
  const parser = new Parser(source);
  const initializers = graph.initializer ?? [];
  parser.addInitializers(initializers);
  const initializerNames = new Set(initializers.map((t) => t.name));
  const inputs = (graph.input ?? []).filter((i) => !initializerNames.has(i.name));
  const outputs = graph.output ?? [];
  if (inputs.length !== 1 || outputs.length !== 1) {
    throw new SmlmError('E_MODEL_INVALID', `${source}: the engine expects one input (frames) and one output (maps), got ${inputs.length} and ${outputs.length}`, { source });
  }
  const inputName = inputs[0].name ?? '';
  const dims = inputs[0].type?.tensorType?.shape?.dim ?? [];
  // protobufjs reports a default 0 for dimValue when the dimension is symbolic (dimParam): only a set value counts.
  const channelDim = dims[1] && !dims[1].dimParam ? dims[1].dimValue : undefined;
  if (dims.length !== 4 || (channelDim !== undefined && channelDim !== null && toNumber(channelDim as number) !== 1)) {
    throw new SmlmError('E_MODEL_INVALID', `${source}: input "${inputName}" must be [N, 1, H, W]`, { source });
  }
  parser.addFrameInput(inputName);
  (graph.node ?? []).forEach((node, i) => parser.parseNode(node, i));
  return parser.finish(inputName, outputs[0].name ?? '');
}
