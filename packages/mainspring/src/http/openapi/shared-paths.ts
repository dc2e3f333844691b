import { idParameter, type Json, json, jsonBody, noContent, OPTIONAL_AUTH, REQUIRED_AUTH, responseRef, string } from './parts.js';

/** The paths that belong to no collection: health, batch, realtime, files, sessions. */
export function sharedPaths(): Json {
  const tags = ['system'];
  return { ...healthPaths(tags), ...batchPaths(tags), ...realtimePaths(tags), ...filePaths(tags), ...sessionPaths() };
}

/** The shared paths: `/api/health`. */
function healthPaths(tags: string[]): Json {
  return {
    '/api/health': {
      get: {
        operationId: 'health',
        summary: 'Health check',
        description: '`data` is empty, except for a superuser (PocketBase).',
        tags,
        security: OPTIONAL_AUTH,
        responses: {
          200: json(
            {
              type: 'object',
              properties: {
                message: string,
                code: { type: 'integer' },
                data: {
                  type: 'object',
                  properties: {
                    canBackup: { type: 'boolean', description: 'Whether a backup may start now (false while a backup or restore runs).' },
                    realIP: { ...string, description: 'The client IP as the server reads it (trusted proxy headers applied).' },
                    possibleProxyHeader: { ...string, description: "The first proxy header the request carries, or ''." },
                  },
                },
              },
              required: ['message', 'code', 'data'],
            },
            'Healthy.',
          ),
        },
      },
    },
  };
}

/** The shared paths: `/api/batch`. */
function batchPaths(tags: string[]): Json {
  return {
    '/api/batch': {
      post: {
        operationId: 'batch',
        summary: 'Several record writes in one transaction',
        description:
          'Each request is a records route (`/api/collections/{c}/records[/{id}]`) with its method; all commit or none. Files go as multipart parts named `requests.N.field`.',
        tags,
        security: OPTIONAL_AUTH,
        requestBody: jsonBody({
          type: 'object',
          properties: {
            requests: {
              type: 'array',
              minItems: 1,
              items: {
                type: 'object',
                properties: {
                  method: { type: 'string', enum: ['POST', 'PATCH', 'PUT', 'DELETE'] },
                  url: { ...string, examples: ['/api/collections/posts/records'] },
                  body: { type: 'object', additionalProperties: true },
                  headers: { type: 'object', additionalProperties: string },
                },
                required: ['method', 'url'],
              },
            },
          },
          required: ['requests'],
        }),
        responses: {
          200: json(
            {
              type: 'array',
              items: { type: 'object', properties: { status: { type: 'integer' }, body: {} }, required: ['status', 'body'] },
            },
            "Every request's answer, in order.",
          ),
          400: responseRef('BadRequest'),
          403: responseRef('Forbidden'),
        },
      },
    },
  };
}

/** The shared paths: `/api/realtime`: the SSE stream and its subscriptions. */
function realtimePaths(tags: string[]): Json {
  const redirectPage = {
    200: {
      description:
        'A page telling the person whether the code went to a waiting client (no waiting client, no code, or the provider’s error: it did not).',
      content: { 'text/plain': { schema: { type: 'string' } } },
    },
  };
  const redirectQuery = ['state', 'code', 'error'].map((name) => ({ name, in: 'query', required: false, schema: { type: 'string' } }));
  return {
    '/api/oauth2-redirect': {
      get: {
        operationId: 'oauth2Redirect',
        summary: 'Where a provider sends the user back in the all-in-one OAuth2 flow',
        description: 'Sends `{state, code, error?}` once to the realtime client whose id is `state`, if it subscribed to `@oauth2`.',
        tags,
        parameters: redirectQuery,
        responses: redirectPage,
      },
      post: {
        operationId: 'oauth2RedirectFormPost',
        summary: 'The same, for `response_mode=form_post` (Apple)',
        tags,
        responses: redirectPage,
      },
    },
    '/api/realtime': {
      get: {
        operationId: 'realtimeConnect',
        summary: 'The realtime stream (Server-Sent Events)',
        description:
          'The first event is `PB_CONNECT` with `{"clientId": …}`; then one event per subscribed topic (`{collection}/*` or `{collection}/{id}`) carrying `{"action": "create"|"update"|"delete", "record": {…}}`, sent only when the rule admits the record for the subscriber.',
        tags,
        responses: {
          200: { description: 'An open event stream.', content: { 'text/event-stream': { schema: { type: 'string' } } } },
        },
      },
      post: {
        operationId: 'realtimeSubscribe',
        summary: "Set a realtime client's subscriptions",
        tags,
        security: OPTIONAL_AUTH,
        requestBody: jsonBody({
          type: 'object',
          properties: {
            clientId: string,
            subscriptions: {
              type: 'array',
              items: { ...string, description: '`posts/*`, `posts/RECORD_ID`, optionally `?options={"query":{"filter":…}}`.' },
            },
          },
          required: ['clientId'],
        }),
        responses: { 204: noContent, 400: responseRef('BadRequest'), 403: responseRef('Forbidden'), 404: responseRef('NotFound') },
      },
    },
  };
}

/** The shared paths: File tokens and downloads. */
function filePaths(tags: string[]): Json {
  return {
    '/api/files/token': {
      post: {
        operationId: 'fileToken',
        summary: 'A short-lived token for protected files',
        tags,
        security: REQUIRED_AUTH,
        responses: {
          200: json({ type: 'object', properties: { token: string }, required: ['token'] }, 'The token.'),
          401: responseRef('Unauthorized'),
        },
      },
    },
    '/api/files/{collection}/{recordId}/{filename}': {
      get: {
        operationId: 'fileDownload',
        summary: 'A file of a record',
        description: 'Streams the file, with `Range` (one range, 206), `ETag` and `If-None-Match`/`If-Modified-Since` (304).',
        tags,
        parameters: [
          { name: 'collection', in: 'path', required: true, schema: string, description: 'Collection id or name.' },
          { name: 'recordId', in: 'path', required: true, schema: string },
          { name: 'filename', in: 'path', required: true, schema: string },
          { name: 'thumb', in: 'query', schema: string, description: 'A thumb size the field lists (`100x100`, `0x50`, `300x200f`).' },
          { name: 'download', in: 'query', schema: { type: 'boolean' }, description: 'Send as an attachment.' },
          { name: 'token', in: 'query', schema: string, description: 'A file token, for protected fields.' },
          { name: 'Range', in: 'header', schema: string, description: '`bytes=0-99`, `bytes=100-`, `bytes=-100`.' },
        ],
        responses: {
          200: {
            description: 'The file.',
            content: { 'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } },
          },
          206: {
            description: 'The range asked for.',
            content: { 'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } },
          },
          304: { description: 'Not modified.' },
          404: responseRef('NotFound'),
          416: { description: 'The range is past the end of the file.' },
        },
      },
    },
  };
}

/** The shared paths: Mainspring's refresh-token sessions (`/api/ms/sessions`, `logout-all`). */
function sessionPaths(): Json {
  return {
    '/api/ms/sessions': {
      get: {
        operationId: 'listSessions',
        summary: "The caller's refresh sessions",
        tags: ['sessions'],
        security: REQUIRED_AUTH,
        responses: {
          200: json(
            { type: 'object', properties: { items: { type: 'array', items: { type: 'object' } } }, required: ['items'] },
            'The sessions.',
          ),
          401: responseRef('Unauthorized'),
        },
      },
      post: {
        operationId: 'createSession',
        summary: 'Start a session: a rotating refresh token',
        tags: ['sessions'],
        security: REQUIRED_AUTH,
        responses: {
          200: json(
            {
              type: 'object',
              properties: { token: string, refreshToken: string, session: { type: 'object' } },
              required: ['token', 'refreshToken', 'session'],
            },
            'The session.',
          ),
          401: responseRef('Unauthorized'),
          403: responseRef('Forbidden'),
        },
      },
    },
    '/api/ms/sessions/refresh': {
      post: {
        operationId: 'refreshSession',
        summary: 'Trade a refresh token for new tokens (each works once)',
        tags: ['sessions'],
        requestBody: jsonBody({ type: 'object', properties: { refreshToken: string }, required: ['refreshToken'] }),
        responses: {
          200: json(
            {
              type: 'object',
              properties: { token: string, refreshToken: string, record: { type: 'object' } },
              required: ['token', 'refreshToken', 'record'],
            },
            'New tokens.',
          ),
          400: responseRef('BadRequest'),
          401: responseRef('Unauthorized'),
          429: responseRef('TooManyRequests'),
        },
      },
    },
    '/api/ms/sessions/{id}': {
      delete: {
        operationId: 'deleteSession',
        summary: 'End one of the caller’s sessions',
        tags: ['sessions'],
        security: REQUIRED_AUTH,
        parameters: [idParameter('session')],
        responses: { 204: noContent, 401: responseRef('Unauthorized'), 404: responseRef('NotFound') },
      },
    },
    '/api/ms/logout-all': {
      post: {
        operationId: 'logoutAll',
        summary: 'End every session and token of the caller',
        tags: ['sessions'],
        security: REQUIRED_AUTH,
        responses: { 204: noContent, 401: responseRef('Unauthorized') },
      },
    },
  };
}
