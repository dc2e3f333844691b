import type { FastifyInstance } from 'fastify';
import type { App } from '../../core/app.js';
import type { AuthOptions, EmailTemplate } from '../../core/collections/model.js';
import { Errors, fieldError } from '../../core/errors.js';
import { s3Settings } from '../../core/files/drivers.js';
import { checkS3Location } from '../../core/files/s3-bucket.js';
import { SUPERUSERS } from '../../core/rules/request-info.js';
import { bodyObject, requireSuperuser } from '../context.js';

/** The templates `test/email` can send, as PocketBase names them, read from the auth collection's options. */
const TEST_TEMPLATES: Record<string, (a: AuthOptions) => EmailTemplate> = {
  verification: (a) => a.verificationTemplate,
  'password-reset': (a) => a.resetPasswordTemplate,
  'email-change': (a) => a.confirmEmailChangeTemplate,
  otp: (a) => a.otp.emailTemplate,
  'login-alert': (a) => a.authAlert.emailTemplate,
};

/** `/api/settings` (superusers): read, change, send a test mail, test an S3 connection. */
export function settingsRoutes(server: FastifyInstance, app: App): void {
  server.get('/api/settings', async (request) => {
    await requireSuperuser(app, request);
    return app.settings.toJSON();
  });

  server.patch('/api/settings', async (request) => {
    await requireSuperuser(app, request);
    return app.settings.toJSON(await app.settings.update(bodyObject(request)));
  });

  // PocketBase's checks and answers: the filesystem's S3 settings (for files, the environment's over the stored),
  // a test object uploaded and its folder listed and deleted; 204 when that worked
  server.post('/api/settings/test/s3', async (request, reply) => {
    await requireSuperuser(app, request);
    const { filesystem } = bodyObject(request);
    if (filesystem === undefined || filesystem === null || filesystem === '') {
      throw Errors.badRequest('Failed to test the S3 filesystem.', { filesystem: fieldError('validation_required', 'Cannot be blank.') });
    }
    if (filesystem !== 'storage' && filesystem !== 'backups') {
      throw Errors.badRequest('Failed to test the S3 filesystem.', {
        filesystem: fieldError('validation_in_invalid', 'Must be "storage" or "backups".'),
      });
    }
    const settings = app.settings.get();
    const s3 = filesystem === 'storage' ? s3Settings(settings.s3) : settings.backups.s3;
    const raw = (message: string) => Errors.badRequest(`Failed to test the S3 filesystem. Raw error: \n${message.slice(0, 500)}`);
    if (!s3.enabled) throw raw('S3 storage filesystem is not enabled.');
    try {
      await checkS3Location(s3);
    } catch (err) {
      throw raw((err as Error).message);
    }
    return reply.status(204).send();
  });

  server.post('/api/settings/test/email', async (request, reply) => {
    await requireSuperuser(app, request);
    const body = bodyObject(request);
    const errors: Record<string, ReturnType<typeof fieldError>> = {};
    if (typeof body.email !== 'string' || !/^[^\s@]+@[^\s@]+$/.test(body.email))
      errors.email = fieldError('validation_is_email', 'Must be a valid email address.');
    const pick =
      typeof body.template === 'string' && Object.hasOwn(TEST_TEMPLATES, body.template) ? TEST_TEMPLATES[body.template] : undefined;
    if (!pick) errors.template = fieldError('validation_in_invalid', `Must be one of ${Object.keys(TEST_TEMPLATES).join(', ')}.`);
    // as PocketBase: the named auth collection's template, _superusers' by default
    const c = app.collections.registry.find(typeof body.collection === 'string' && body.collection !== '' ? body.collection : SUPERUSERS);
    if (!c?.auth) errors.collection = fieldError('validation_invalid_collection', 'Must be an auth collection.');
    if (Object.keys(errors).length > 0 || !pick || !c?.auth) {
      throw Errors.validation('An error occurred while validating the submitted data.', errors);
    }
    const values = { TOKEN: 'test-token', OTP: '12345678', OTP_ID: 'test', ALERT_INFO: 'a test' };
    try {
      await app.mail.sendTemplate(body.email as string, pick(c.auth), values);
    } catch (err) {
      throw Errors.badRequest(`Failed to send the test email: ${(err as Error).message.slice(0, 200)}`);
    }
    return reply.status(204).send();
  });
}
