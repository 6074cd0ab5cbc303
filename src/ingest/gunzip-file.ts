/**
 * Decompressing a .gz through a handle we hold, from its first byte, as many times as needed (its
 * fingerprint, then its lines). Read with positioned reads of our own rather than fs.createReadStream:
 * a ReadStream given a handle closes it, or stalls the next stream, when it is destroyed before its end.
 */
import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { createGunzip, type Gunzip } from 'node:zlib';

export interface GunzipRead {
  /** The decompressed bytes; iterate it, a truncated or damaged .gz throws a zlib error. */
  output: Gunzip;
  /** Compressed bytes read from the file so far. */
  diskBytes(): number;
  /** Stops reading (the handle stays open). */
  close(): void;
}

export function gunzipFile(handle: FileHandle, options: { readBytes: number; chunkSize?: number }): GunzipRead {
  let diskBytes = 0;
  let closed = false;
  async function* compressed(): AsyncGenerator<Buffer> {
    for (let position = 0; !closed; ) {
      const buffer = Buffer.allocUnsafe(options.readBytes);
      const { bytesRead } = await handle.read(buffer, 0, options.readBytes, position);
      if (bytesRead === 0) return;
      position += bytesRead;
      diskBytes += bytesRead;
      yield buffer.subarray(0, bytesRead);
    }
  }
  const input = Readable.from(compressed(), { objectMode: false });
  const output = createGunzip(options.chunkSize ? { chunkSize: options.chunkSize } : {});
  input.on('error', (error) => output.destroy(error));
  input.pipe(output);
  return {
    output,
    diskBytes: () => diskBytes,
    close: () => {
      closed = true;
      input.unpipe(output);
      input.destroy();
      output.destroy();
    },
  };
}
