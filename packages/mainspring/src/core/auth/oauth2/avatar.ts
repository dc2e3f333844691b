import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { FileField } from '../../collections/model.js';
import { storedName } from '../../files/names.js';
import { detectFileType } from '../../files/sniff.js';
import { UploadedFile, type UploadSet } from '../../files/uploads.js';
import { outbound } from './http.js';

/** The image types an avatar may be: raster only (an SVG or HTML "avatar" is a script waiting to be served). */
const AVATAR_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);
/** The largest avatar taken, whatever the field allows. */
const AVATAR_MAX_BYTES = 5 << 20;

/**
 * Downloads a profile picture into an upload for a file field: through the
 * outbound guard, at most the field's size (and 5 MiB), typed by its bytes
 * and taken only as PNG, JPEG, GIF or WebP.
 */
export async function downloadAvatar(url: string, field: FileField, uploads: UploadSet, trusted: readonly string[]): Promise<UploadedFile> {
  const limit = Math.min(field.maxSize > 0 ? field.maxSize : AVATAR_MAX_BYTES, AVATAR_MAX_BYTES);
  const answer = await outbound(url, { trusted, maxBytes: limit, timeoutMs: 15_000 });
  if (answer.status !== 200) throw new Error(`the avatar answered ${answer.status}`);
  const path = uploads.tempPath();
  await writeFile(path, answer.body);
  const type = await detectFileType(createReadStream(path), answer.body.length);
  if (!AVATAR_TYPES.has(type.mime)) throw new Error(`the avatar is ${type.mime}, not an image we take`);
  return new UploadedFile(uploads, {
    originalName: `avatar.${type.ext}`,
    name: storedName(`avatar.${type.ext}`, type.ext),
    path,
    size: answer.body.length,
    type: type.mime,
    sha256: createHash('sha256').update(answer.body).digest('hex'),
  });
}
