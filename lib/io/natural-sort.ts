/** Natural order of file names: frame2.tif before frame10.tif, as acquisition programs number their files. */
const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'variant' });

export function naturalCompare(a: string, b: string): number {
  return collator.compare(a, b);
}
