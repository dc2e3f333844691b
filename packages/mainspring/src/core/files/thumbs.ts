import { availableParallelism } from 'node:os';
import type { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import type { Logger } from 'pino';
import type { Sharp, SharpOptions } from 'sharp';
import { type FileKey, keyPath } from './keys.js';
import { bufferSource, FileExistsError, type FileStore } from './store.js';

/**
 * Thumbnails as PocketBase makes them, with sharp: made on first request
 * from the original read from the file store, kept in the store beside it,
 * one generation per thumb however many requests ask for it at once, a
 * bounded number of generations at a time. sharp is loaded on the first
 * thumbnail, so a server that never makes one never loads libvips.
 */

/** A thumb size: `WxH` (crop from the center), `WxHt` (top), `WxHb` (bottom), `WxHf` (fit inside), `0xH`, `Wx0`. */
export interface ThumbSize {
  width: number;
  height: number;
  mode: 'center' | 'top' | 'bottom' | 'fit';
}

const SIZE = /^(\d{1,4})x(\d{1,4})([tbf])?$/;
const MODES = { t: 'top', b: 'bottom', f: 'fit' } as const;

/** The size a thumb parameter names, or null (both sides 0, or not the format). */
export function parseThumbSize(size: string): ThumbSize | null {
  const m = SIZE.exec(size);
  if (!m) return null;
  const width = Number(m[1]);
  const height = Number(m[2]);
  if (width === 0 && height === 0) return null;
  return { width, height, mode: m[3] ? MODES[m[3] as keyof typeof MODES] : 'center' };
}

type SharpFactory = (input: Buffer, options?: SharpOptions) => Sharp;
let sharpModule: Promise<SharpFactory> | undefined;

function loadSharp(): Promise<SharpFactory> {
  sharpModule ??= import('sharp').then((m) => {
    // each thumb is made once from a file read once: libvips' operation cache would only hold memory
    m.default.cache(false);
    return m.default as SharpFactory;
  });
  return sharpModule;
}

/** The encoder of a thumb: the original's format (PocketBase falls back to PNG where it has no encoder; sharp has one for each). */
function encode(image: Sharp, type: string): Sharp {
  switch (type) {
    case 'image/jpeg':
    case 'image/jpg':
      return image.jpeg({ quality: 90 });
    case 'image/gif':
      return image.gif();
    case 'image/webp':
      return image.webp();
    default:
      return image.png();
  }
}

/** The thumb of the image `original` streams: auto-oriented, first frame only, resized as `size` says, in the original's format. */
export async function makeThumb(original: Readable, size: ThumbSize, type: string): Promise<Buffer> {
  const sharp = await loadSharp();
  // sharp holds a streamed input whole before decoding anyway: take it as one buffer, which fails cleanly when the read does
  const input = await buffer(original);
  // first frame of an animation only (as PocketBase); EXIF orientation applied
  let image = sharp(input, { pages: 1 }).rotate();
  if (size.width === 0 || size.height === 0) {
    // one side given: scale to it, keeping the aspect ratio (larger too, as PocketBase's Resize)
    image = image.resize(size.width || null, size.height || null);
  } else if (size.mode === 'fit') {
    // fit inside the box, never larger than the original (PocketBase's Fit)
    image = image.resize(size.width, size.height, { fit: 'inside', withoutEnlargement: true });
  } else {
    // fill the box and crop the rest (PocketBase's Fill)
    image = image.resize(size.width, size.height, { fit: 'cover', position: size.mode === 'center' ? 'centre' : size.mode });
  }
  return encode(image, type).toBuffer();
}

/** How long a thumb that could not be made is not tried again, and how many such thumbs are remembered. */
const RETRY_AFTER_MS = 60_000;
const FAILURES_KEPT = 1000;

/**
 * sharp runs on libuv's thread pool (4 threads unless `UV_THREADPOOL_SIZE`
 * says otherwise), which file reads and bcrypt share: thumbs leave two of
 * its threads to them, and use no more than the cores. (PocketBase, whose
 * goroutines share nothing of the kind, allows cores + 2.)
 */
export function defaultThumbConcurrency(): number {
  const pool = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  return Math.max(1, Math.min(availableParallelism(), pool - 2));
}

/** Limits of thumbnail generation. */
export interface ThumbnailOptions {
  /** Generations at once (default: {@link defaultThumbConcurrency}). */
  concurrency?: number;
  /** How long a request waits for a free slot before the original is served instead, in ms (default 60 s, PocketBase's). */
  maxWaitMs?: number;
  /** What makes one thumb (default {@link makeThumb}; tests count calls). */
  make?: typeof makeThumb;
}

/** Thumbnails in a file store, made on demand. */
export class Thumbnails {
  private readonly pending = new Map<string, Promise<boolean>>();
  /** Thumbs that could not be made lately, and until when not to try again: a corrupt image is not decoded on every request. */
  private readonly failed = new Map<string, number>();
  private readonly queue: (() => void)[] = [];
  private running = 0;
  private readonly concurrency: number;
  private readonly maxWaitMs: number;
  private readonly make: typeof makeThumb;

  constructor(
    private readonly store: FileStore,
    private readonly logger: Logger,
    options: ThumbnailOptions = {},
  ) {
    this.concurrency = Math.max(1, options.concurrency ?? defaultThumbConcurrency());
    this.maxWaitMs = options.maxWaitMs ?? 60_000;
    this.make = options.make ?? makeThumb;
  }

  /**
   * The key of the thumb of `original` at `size` (as the URL names it),
   * found in the store or made now; null when it cannot be had (not a
   * size, a corrupt image, no slot in time): the caller serves the original
   * then, as PocketBase does, rather than failing.
   */
  async ensure(original: FileKey, size: string, type: string): Promise<FileKey | null> {
    const thumb: FileKey = { ...original, thumb: size };
    const parsed = parseThumbSize(size);
    const id = keyPath(thumb);
    if (!parsed || id === null) return null;
    if ((await this.store.stat(thumb)).exists) return thumb;
    const until = this.failed.get(id);
    if (until !== undefined) {
      if (until > Date.now()) return null;
      this.failed.delete(id);
    }
    let job = this.pending.get(id);
    if (!job) {
      job = this.generate(original, thumb, id, parsed, type).finally(() => this.pending.delete(id));
      this.pending.set(id, job);
    }
    return (await job) ? thumb : null;
  }

  private async generate(original: FileKey, thumb: FileKey, id: string, size: ThumbSize, type: string): Promise<boolean> {
    if (!(await this.acquire())) {
      this.logger.warn({ thumb: id }, 'thumbnail: no free slot in time, serving the original');
      return false;
    }
    try {
      // another instance sharing the storage may have made it meanwhile
      if ((await this.store.stat(thumb)).exists) return true;
      const read = await this.store.openRead(original);
      if (!read?.stream) return false;
      let bytes: Buffer;
      try {
        bytes = await this.make(read.stream, size, type);
      } finally {
        read.stream.destroy();
      }
      await this.store.put(thumb, bufferSource(bytes)).catch((err) => {
        // made meanwhile by another instance: theirs is served
        if (!(err instanceof FileExistsError)) throw err;
      });
      return true;
    } catch (err) {
      this.logger.warn({ thumb: id, err: { message: (err as Error).message } }, 'thumbnail failed, serving the original');
      if (this.failed.size >= FAILURES_KEPT) this.failed.clear();
      this.failed.set(id, Date.now() + RETRY_AFTER_MS);
      return false;
    } finally {
      this.release();
    }
  }

  private acquire(): Promise<boolean> {
    if (this.running < this.concurrency) {
      this.running++;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const start = () => {
        clearTimeout(timer);
        this.running++;
        resolve(true);
      };
      const timer = setTimeout(() => {
        const i = this.queue.indexOf(start);
        if (i >= 0) this.queue.splice(i, 1);
        resolve(false);
      }, this.maxWaitMs);
      timer.unref();
      this.queue.push(start);
    });
  }

  private release(): void {
    this.running--;
    this.queue.shift()?.();
  }
}
