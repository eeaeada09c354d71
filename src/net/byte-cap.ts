// Counting bytes ourselves is the only size check that holds: Content-Length and Upload-Length are claims
// (reliability-anchors.md §0 rule 8, checklist B7/C5). Used by the URL importer and the plain upload route.
import { Transform, type TransformCallback } from 'node:stream';

/** Passes bytes through and fails the pipeline with `tooLarge()` as soon as one byte more than `maxBytes` arrives. */
export class ByteCap extends Transform {
  bytes = 0;
  readonly #maxBytes: number;
  readonly #tooLarge: () => Error;

  constructor(maxBytes: number, tooLarge: () => Error) {
    super();
    this.#maxBytes = maxBytes;
    this.#tooLarge = tooLarge;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.#maxBytes) {
      cb(this.#tooLarge());
      return;
    }
    cb(null, chunk);
  }
}
