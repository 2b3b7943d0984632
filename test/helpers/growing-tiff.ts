/**
 * Writes a classic TIFF page by page, as a camera recording to disk does, for the tests of following a growing file:
 * each page appends its IFD (and description), links it from the previous IFD (or the header), then appends its
 * pixels, so a reader looking in between sees a linked page whose pixels are not all there yet. `torn` stops a page
 * part-way through its pixels, as a writer killed mid-page leaves it. Independent of lib/io/tiff-write.ts.
 */
import { closeSync, openSync, writeSync } from 'node:fs';

export interface GrowingTiffOptions {
  width: number;
  height: number;
  bigEndian?: boolean;
  /** ImageDescription of the first page (e.g. ImageJ's, with the pixel size). */
  description?: string;
}

export class GrowingTiffWriter {
  private size = 0;
  /** Where the offset of the next IFD goes: the header's field, then the last IFD's. */
  private linkAt = 4;
  private pages = 0;
  /** The pixels a torn page has not written yet (finishPage() writes them). */
  private rest: Buffer | undefined;
  private readonly fd: number;
  private readonly le: boolean;

  constructor(
    readonly path: string,
    private readonly options: GrowingTiffOptions,
  ) {
    this.le = !options.bigEndian;
    this.fd = openSync(path, 'w');
    const header = Buffer.alloc(8);
    header.write(this.le ? 'II' : 'MM', 0, 'latin1');
    this.u16(header, 2, 42);
    this.u32(header, 4, 0);
    this.append(header);
  }

  /**
   * Appends one uint16 page; with `torn`, only that many bytes of its pixels (finishPage() writes the rest); `damage`
   * points its strip somewhere else.
   */
  appendPage(values: ArrayLike<number>, torn?: number, damage?: { stripOffset: number }): void {
    if (this.rest) throw new Error('GrowingTiffWriter: finish the torn page first');
    const { width, height } = this.options;
    const pixelBytes = width * height * 2;
    const description = this.pages === 0 && this.options.description !== undefined ? Buffer.from(`${this.options.description}\0`, 'latin1') : undefined;
    const entries: Array<[number, number, number, number]> = [
      [256, 4, 1, width],
      [257, 4, 1, height],
      [258, 3, 1, 16],
      [259, 3, 1, 1],
      [262, 3, 1, 1],
    ];
    if (description) entries.push([270, 2, description.length, 0]);
    entries.push([273, 4, 1, 0], [277, 3, 1, 1], [278, 4, 1, height], [279, 4, 1, pixelBytes], [339, 3, 1, 1]);
    const ifdAt = this.size;
    const ifdBytes = 2 + entries.length * 12 + 4;
    const descriptionAt = ifdAt + ifdBytes;
    const pixelsAt = descriptionAt + (description ? description.length + (description.length & 1) : 0);
    const ifd = Buffer.alloc(ifdBytes);
    this.u16(ifd, 0, entries.length);
    entries.forEach(([tag, type, count, value], k) => {
      const at = 2 + 12 * k;
      this.u16(ifd, at, tag);
      this.u16(ifd, at + 2, type);
      this.u32(ifd, at + 4, count);
      const v = tag === 270 ? descriptionAt : tag === 273 ? (damage?.stripOffset ?? pixelsAt) : value;
      if (type === 3) this.u16(ifd, at + 8, v);
      else this.u32(ifd, at + 8, v);
    });
    this.u32(ifd, ifdBytes - 4, 0);
    this.append(ifd);
    if (description) this.append(Buffer.concat([description, Buffer.alloc(description.length & 1)]));
    // Linked before its pixels are written, the most a reader can be shown of an unfinished page.
    const link = Buffer.alloc(4);
    this.u32(link, 0, ifdAt);
    writeSync(this.fd, link, 0, 4, this.linkAt);
    this.linkAt = ifdAt + ifdBytes - 4;
    const pixels = Buffer.alloc(pixelBytes);
    for (let i = 0; i < width * height; i++) this.u16(pixels, 2 * i, values[i]);
    this.append(torn === undefined ? pixels : pixels.subarray(0, torn));
    if (torn !== undefined) this.rest = pixels.subarray(torn);
    this.pages++;
  }

  /** Writes the rest of a torn page's pixels. */
  finishPage(): void {
    if (this.rest) this.append(this.rest);
    this.rest = undefined;
  }

  /** Appends bytes that belong to no page (a damaged writer's output). */
  appendJunk(bytes: number): void {
    this.append(Buffer.alloc(bytes, 0xab));
  }

  close(): void {
    closeSync(this.fd);
  }

  private append(bytes: Buffer): void {
    writeSync(this.fd, bytes, 0, bytes.length, this.size);
    this.size += bytes.length;
  }

  private u16(buf: Buffer, at: number, v: number): void {
    if (this.le) buf.writeUInt16LE(v, at);
    else buf.writeUInt16BE(v, at);
  }

  private u32(buf: Buffer, at: number, v: number): void {
    if (this.le) buf.writeUInt32LE(v, at);
    else buf.writeUInt32BE(v, at);
  }
}
