import type { SymDim } from './ir.js';

/**
 * Arithmetic on symbolic dimensions (coef * product of symbols). Enough to follow what torch's exporter writes for
 * dynamic shapes (Shape -> Gather -> Mul -> Unsqueeze -> Concat -> Reshape) without knowing the frame size.
 */

export function symConst(value: number): SymDim {
  return { coef: value, symbols: [] };
}

export function symVar(name: string): SymDim {
  return { coef: 1, symbols: [name] };
}

export function symMul(a: SymDim, b: SymDim): SymDim {
  return { coef: a.coef * b.coef, symbols: [...a.symbols, ...b.symbols].sort() };
}

/** a / b when b's symbols divide a's; undefined otherwise (not expressible as a monomial). */
export function symDiv(a: SymDim, b: SymDim): SymDim | undefined {
  if (b.coef === 0) return undefined;
  const rest = [...a.symbols];
  for (const s of b.symbols) {
    const i = rest.indexOf(s);
    if (i < 0) return undefined;
    rest.splice(i, 1);
  }
  return { coef: a.coef / b.coef, symbols: rest };
}

export function symScale(a: SymDim, factor: number): SymDim {
  return { coef: a.coef * factor, symbols: a.symbols };
}

export function symEqual(a: SymDim, b: SymDim): boolean {
  return a.coef === b.coef && a.symbols.length === b.symbols.length && a.symbols.every((s, i) => s === b.symbols[i]);
}

export function symProduct(dims: SymDim[]): SymDim {
  return dims.reduce(symMul, symConst(1));
}

/** The numeric value when the dimension has no symbols. */
export function symNumber(a: SymDim): number | undefined {
  return a.symbols.length === 0 ? a.coef : undefined;
}

export function symToString(a: SymDim): string {
  if (a.symbols.length === 0) return String(a.coef);
  const s = a.symbols.join('*');
  return a.coef === 1 ? s : `${a.coef}*${s}`;
}
