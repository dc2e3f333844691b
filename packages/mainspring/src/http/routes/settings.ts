import type { FastifyInstance } from 'fastify';
import type { App } from '../../core/app.js';
import { DEFAULT_TEMPLATES } from '../../core/collections/auth-options.js';
import { Errors, fieldError } from '../../core/errors.js';
import { renderTemplate } from '../../core/mail/mailer.js';
import { bodyObject, requireSuperuser } from '../context.js';

const TEST_TEMPLATES: Record<string, keyof typeof DEFAULT_TEMPLATES> = {
  verification: 'verification',
  'password-reset': 'resetPassword',
  'email-change': 'confirmEmailChange',
  otp: 'otp',
  'login-alert': 'authAlert',
};

/** `/api/settings` (superusers): read, change, and send a test mail. */
export function settingsRoutes(server: FastifyInstance, app: App): void {
  server.get('/api/settings', async (request) => {
    await requireSuperuser(app, request);
    return app.settings.toJSON();
  });

  server.patch('/api/settings', async (request) => {
    await requireSuperuser(app, request);
    return app.settings.toJSON(await app.settings.update(bodyObject(request)));
  });

  server.post('/api/settings/test/email', async (request, reply) => {
    await requireSuperuser(app, request);
    const body = bodyObject(request);
    const errors: Record<string, ReturnType<typeof fieldError>> = {};
    if (typeof body.email !== 'string' || !/^[^\s@]+@[^\s@]+$/.test(body.email))
      errors.email = fieldError('validation_is_email', 'Must be a valid email address.');
    const key = typeof body.template === 'string' ? TEST_TEMPLATES[body.template] : undefined;
    if (!key) errors.template = fieldError('validation_in_invalid', `Must be one of ${Object.keys(TEST_TEMPLATES).join(', ')}.`);
    if (Object.keys(errors).length > 0) throw Errors.validation('An error occurred while validating the submitted data.', errors);
    const template = DEFAULT_TEMPLATES[key as keyof typeof DEFAULT_TEMPLATES];
    const meta = app.settings.get().meta;
    const values = {
      APP_NAME: meta.appName,
      APP_URL: meta.appURL,
      TOKEN: 'test-token',
      OTP: '12345678',
      OTP_ID: 'test',
      ALERT_INFO: 'a test',
    };
    try {
      await app.mail.send({
        to: body.email as string,
        subject: renderTemplate(template.subject, values),
        html: renderTemplate(template.body, values),
      });
    } catch (err) {
      throw Errors.badRequest(`Failed to send the test email: ${(err as Error).message.slice(0, 200)}`);
    }
    return reply.status(204).send();
  });
}
