import { createReadStream } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { App } from '../../core/app.js';
import { Errors, fieldError } from '../../core/errors.js';
import { UploadedFile } from '../../core/files/uploads.js';
import { isSuperuserAuth } from '../../core/rules/request-info.js';
import { bodyObject, queryOf, requireSuperuser } from '../context.js';
import { withUploads } from '../uploads.js';

type Params = { key: string };

/**
 * PocketBase's `/api/backups` (core/backups): list, create, upload,
 * download (with a superuser's file token, as links in a page have no
 * header), delete and restore. Every route but the download is for
 * superusers' tokens.
 */
export function backupRoutes(server: FastifyInstance, app: App): void {
  const backups = app.backups;

  server.get('/api/backups', async (request) => {
    await requireSuperuser(app, request);
    return backups.list();
  });

  server.post('/api/backups', async (request, reply) => {
    await requireSuperuser(app, request);
    const name = bodyObject(request).name;
    if (name !== undefined && typeof name !== 'string') {
      throw Errors.validation('An error occurred while validating the submitted data.', {
        name: fieldError('validation_invalid_type', 'Must be a string.'),
      });
    }
    await backups.create(name);
    return reply.code(204).send();
  });

  server.post('/api/backups/upload', async (request, reply) => {
    await requireSuperuser(app, request);
    return withUploads(request, async () => {
      const file = (request.body as Record<string, unknown> | undefined)?.file;
      const upload = Array.isArray(file) ? file[0] : file;
      if (!(upload instanceof UploadedFile)) {
        throw Errors.validation('An error occurred while validating the submitted data.', {
          file: fieldError('validation_required', 'Cannot be blank.'),
        });
      }
      await backups.upload(upload.originalName, createReadStream(upload.path));
      return reply.code(204).send();
    });
  });

  server.get<{ Params: Params }>('/api/backups/:key', async (request, reply) => {
    const token = queryOf(request).token;
    const caller = await app.fileServing.tokenCaller(typeof token === 'string' ? token : undefined);
    if (!caller || !isSuperuserAuth(caller)) throw Errors.forbidden('Insufficient permissions to access the resource.');
    const found = await backups.open(request.params.key);
    if (!found) throw Errors.notFound();
    return reply
      .header('content-type', 'application/zip')
      .header('content-length', found.size)
      .header('content-disposition', `attachment; filename*=UTF-8''${encodeURIComponent(request.params.key)}`)
      .header('cache-control', 'no-store')
      .send(found.stream);
  });

  server.delete<{ Params: Params }>('/api/backups/:key', async (request, reply) => {
    await requireSuperuser(app, request);
    await backups.delete(request.params.key);
    return reply.code(204).send();
  });

  server.post<{ Params: Params }>('/api/backups/:key/restore', async (request, reply) => {
    await requireSuperuser(app, request);
    await backups.restore(request.params.key);
    return reply.code(204).send();
  });
}
