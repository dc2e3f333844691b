import sharp from 'sharp';
import { bufferSource } from '../../src/core/files/store.js';
import type { TestServer } from './server.js';

/**
 * Files for download tests: images made with sharp, and stored files put in
 * the server's file store (its disk or its S3 bucket) with the record's file
 * field set by SQL, so serving is tested apart from uploading.
 */

/** Puts `bytes` as stored file `name` of a record and adds the name to `field`. */
export async function storeFile(
  s: TestServer,
  collection: string,
  recordId: string,
  field: string,
  name: string,
  bytes: Buffer | string,
): Promise<void> {
  const c = s.app.collections.registry.find(collection);
  if (!c) throw new Error(`no collection ${collection}`);
  const f = c.fields.find((x) => x.name === field);
  if (f?.type !== 'file') throw new Error(`no file field ${field}`);
  await s.app.files.put({ collectionId: c.id, recordId, name }, bufferSource(Buffer.from(bytes)));
  await setFileValue(s, collection, recordId, field, name);
}

/** Adds `name` to a record's file field without any file on disk (a value the disk lacks, or a hostile one). */
export async function setFileValue(s: TestServer, collection: string, recordId: string, field: string, name: string): Promise<void> {
  const c = s.app.collections.registry.find(collection);
  const f = c?.fields.find((x) => x.name === field);
  if (!c || f?.type !== 'file') throw new Error(`no file field ${collection}.${field}`);
  const record = await s.app.records.findById(c, recordId);
  if (!record) throw new Error(`no record ${recordId}`);
  const current = record[field];
  const list = Array.isArray(current) ? [...(current as string[])] : typeof current === 'string' && current !== '' ? [current] : [];
  list.push(name);
  const value = f.maxSelect > 1 ? JSON.stringify(list) : name;
  await s.app.engine.run(`UPDATE "${c.name}" SET "${field}" = $1 WHERE "id" = $2`, [value, recordId]);
}

/** A PNG of one colour. */
export function solidPng(width: number, height: number, color = '#ff0000'): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: color } })
    .png()
    .toBuffer();
}

/** An image whose top half is red and bottom half blue, in `format`. */
export async function twoTone(width: number, height: number, format: 'png' | 'jpeg' | 'gif' | 'webp' = 'png'): Promise<Buffer> {
  const blue = await sharp({ create: { width, height: Math.floor(height / 2), channels: 3, background: '#0000ff' } })
    .png()
    .toBuffer();
  return sharp({ create: { width, height, channels: 3, background: '#ff0000' } })
    .composite([{ input: blue, top: height - Math.floor(height / 2), left: 0 }])
    .toFormat(format)
    .toBuffer();
}

/** The colour of one pixel as [r, g, b]. */
export async function pixel(image: Buffer, x: number, y: number): Promise<[number, number, number]> {
  const { data, info } = await sharp(image).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const i = (y * info.width + x) * info.channels;
  return [data[i] as number, data[i + 1] as number, data[i + 2] as number];
}

/** True when a colour is mostly red / mostly blue. */
export const isRed = ([r, g, b]: number[]) => (r as number) > 200 && (g as number) < 60 && (b as number) < 60;
export const isBlue = ([r, g, b]: number[]) => (b as number) > 200 && (g as number) < 60 && (r as number) < 60;
