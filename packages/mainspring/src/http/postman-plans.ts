import { type Json, REFERS } from './openapi.js';

/**
 * How the Postman collection (postman.ts) plans each request of its run:
 * the sample body a write sends, the status it expects (or, until a
 * variable only a mailbox fills is set, the refusal it gets instead), and
 * the values its test script keeps for the requests after it.
 */
export type Operation = Json & {
  operationId: string;
  summary?: string;
  description?: string;
  parameters?: Json[];
  requestBody?: Json;
  responses?: Json;
};

export const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/** Operation ids of the per-collection routes, by the prefix the document gives them (`createPosts`). */
const KINDS = [
  'list',
  'create',
  'get',
  'update',
  'delete',
  'authMethods',
  'authWithPassword',
  'authRefresh',
  'requestOtp',
  'authWithOtp',
  'requestVerification',
  'confirmVerification',
  'requestPasswordReset',
  'confirmPasswordReset',
  'requestEmailChange',
  'confirmEmailChange',
  'impersonate',
] as const;
type Kind = (typeof KINDS)[number];

export function kindOf(operationId: string): Kind | null {
  const kind = KINDS.filter((k) => operationId.startsWith(k) && /^[A-Z]/.test(operationId.slice(k.length)))
    .sort((a, b) => b.length - a.length)
    .at(0);
  return kind ?? null;
}

/** What a request expects in the run: its status, or, until `variables` are set, `otherwise` (with the reason). */
interface Expectation {
  status: number;
  unless?: { variables: string[]; otherwise: number; why: string };
}

/** One request as planned: its body's values and headers, what it checks and what it keeps for later requests. */
export interface Plan {
  expect: Expectation;
  /** Values for body properties by name (over the schema's examples), and properties to add. */
  values: Record<string, unknown>;
  /** Body properties to send beyond the required ones. */
  extra: string[];
  /** The variable whose token goes in `Authorization` (default `token`). */
  token: string;
  /** Path parameters' values. */
  path: Record<string, string>;
  /** Test-script lines that keep values for later requests. */
  keep: string[];
  /** Pre-request script lines. */
  before: string[];
}

export function resolveRef(doc: Json, schema: unknown): Json | undefined {
  const s = schema as Json | undefined;
  if (s && typeof s.$ref === 'string') {
    const name = s.$ref.split('/').pop() as string;
    return ((doc.components as Json).schemas as Json)[name] as Json;
  }
  return s;
}

/** The JSON body schema of an operation, resolved. */
export function bodySchema(doc: Json, op: Operation | undefined): Json | undefined {
  const content = (op?.requestBody as Json | undefined)?.content as Json | undefined;
  return resolveRef(doc, (content?.['application/json'] as Json | undefined)?.schema);
}

/** A Postman value for a schema property: the record it refers to, its example (an address made up anew each run), or an empty value. */
function sampleValue(property: Json): unknown {
  const refers = property[REFERS];
  if (typeof refers === 'string') {
    const value =
      refers === 'authCollection'
        ? '{{authCollectionId}}'
        : refers === 'authRecord'
          ? '{{authRecordId}}'
          : `{{${refers.slice('record:'.length)}Id}}`;
    return property.type === 'array' ? [value] : value;
  }
  const example = Array.isArray(property.examples) ? property.examples[0] : undefined;
  if (typeof example === 'string' && /^[^@]+@example\.com$/.test(example)) return '{{$randomEmail}}';
  if (example !== undefined) return example;
  return property.type === 'array' ? [] : property.type === 'integer' || property.type === 'number' ? 0 : '';
}

/** The body of a write: its required properties and `plan.extra`, from `plan.values` or the schema; for an update, what has an example. */
export function sampleBody(schema: Json | undefined, mode: 'create' | 'update' | 'other', plan: Plan): Json {
  const properties = (schema?.properties ?? {}) as Record<string, Json>;
  const required = new Set((schema?.required ?? []) as string[]);
  const out: Json = {};
  for (const [name, property] of Object.entries(properties)) {
    // an update changes what has an example (not a relation: its target may be deleted or not made yet), never a password or address
    const wanted =
      mode === 'update'
        ? Array.isArray(property.examples) && !/password|email/i.test(name)
        : required.has(name) || plan.extra.includes(name);
    if (wanted) out[name] = name in plan.values ? plan.values[name] : sampleValue(property);
  }
  return out;
}

/** The password a run gives the records it creates in an auth collection: its create schema's example. */
function samplePassword(doc: Json, create: Operation | undefined): string {
  const example = ((bodySchema(doc, create)?.properties as Json | undefined)?.password as Json | undefined)?.examples;
  return Array.isArray(example) && typeof example[0] === 'string' ? example[0] : 'password-123';
}

/** The identity field the run signs in with: email when it is one, else the first. */
function identityField(doc: Json, signIn: Operation | undefined): string {
  const fields = ((bodySchema(doc, signIn)?.properties as Json | undefined)?.identityField as Json | undefined)?.enum;
  const list = Array.isArray(fields) ? (fields as string[]) : [];
  return list.includes('email') || list.length === 0 ? 'email' : (list[0] as string);
}

/** The collections a schema's properties refer to (relations). */
export function referred(schema: Json | undefined): string[] {
  return Object.values((schema?.properties ?? {}) as Record<string, Json>)
    .map((p) => p[REFERS])
    .filter((r): r is string => typeof r === 'string' && r.startsWith('record:'))
    .map((r) => r.slice('record:'.length));
}

/** The lowest 2xx status an operation documents. */
function successStatus(op: Operation): number {
  const codes = Object.keys(op.responses ?? {})
    .map(Number)
    .filter((c) => c >= 200 && c < 300);
  return codes.length > 0 ? Math.min(...codes) : 200;
}

const jsString = (value: string) => JSON.stringify(value);
const keep = (name: string, expression: string) =>
  `if (pm.response.code < 300) pm.collectionVariables.set(${jsString(name)}, ${expression});`;

/** What a pre-request script puts in a path variable that is not set, so that the URL names nothing rather than another route. */
const UNSET = 'unset';

/** The test script of an expectation. */
export function expectationScript(e: Expectation): string[] {
  if (!e.unless) return [`pm.test('answers ${e.status}', () => pm.response.to.have.status(${e.status}));`];
  const { variables, otherwise, why } = e.unless;
  return [
    `const ready = ${JSON.stringify(variables)}.every((name) => ![undefined, '', '${UNSET}'].includes(pm.variables.get(name)));`,
    `pm.test(ready ? 'answers ${e.status}' : ${jsString(`answers ${otherwise} until ${variables.join(', ')} ${variables.length > 1 ? 'are' : 'is'} set (${why})`)}, () =>`,
    `  pm.response.to.have.status(ready ? ${e.status} : ${otherwise}));`,
  ];
}

/**
 * What one operation of collection `c` (null for the shared routes) sends,
 * expects and keeps, in a run signed in as a superuser.
 */
export function planOf(doc: Json, op: Operation, c: string | null, ops: Map<string, Operation>, used: Set<string>): Plan {
  const plan: Plan = { expect: { status: successStatus(op) }, values: {}, extra: [], token: 'token', path: {}, keep: [], before: [] };
  if (c === null) planShared(plan, op, used);
  else planRecords(plan, doc, op, c, ops, used);
  return plan;
}

const ref = (name: string) => `{{${name}}}`;
/** A request that needs what a mail carried: `status` once the variable is set, a 400 until then. */
const mailed = (status: number, variable: string, why: string): Expectation => ({
  status,
  unless: { variables: [variable], otherwise: 400, why },
});

/** An operation of collection `c`'s records or auth routes. */
function planRecords(plan: Plan, doc: Json, op: Operation, c: string, ops: Map<string, Operation>, used: Set<string>): void {
  const v = (what: string) => {
    const name = `${c}${what}`;
    used.add(name);
    return name;
  };
  const kind = kindOf(op.operationId);
  const suffix = op.operationId.slice((kind ?? '').length);
  const create = ops.get(`create${suffix}`);
  const password = samplePassword(doc, create);
  const identity = identityField(doc, ops.get(`authWithPassword${suffix}`));
  switch (kind) {
    case 'list':
      // a collection the run cannot write (a view) is viewed through a record it lists, if there is one
      if (!create) {
        plan.keep.push(
          `if (pm.response.code === 200 && pm.response.json().items.length > 0) pm.collectionVariables.set(${jsString(v('Id'))}, pm.response.json().items[0].id);`,
        );
      }
      break;
    case 'create':
      plan.keep.push(keep(v('Id'), 'pm.response.json().id'));
      if (ops.has(`authWithPassword${suffix}`) || ops.has(`authRefresh${suffix}`)) {
        plan.extra.push(identity);
        plan.keep.push(keep(v('Email'), 'pm.response.json().email'), keep(v('Identity'), `pm.response.json()[${jsString(identity)}]`));
        plan.values.passwordConfirm = password;
      }
      break;
    case 'get':
    case 'update':
    case 'delete':
    case 'impersonate':
      plan.path.id = ref(v('Id'));
      if (kind === 'get' && !create) {
        // nothing to view in an empty view: an id of nothing, which is the 404 it should be
        plan.before.push(`if (!pm.variables.get(${jsString(v('Id'))})) pm.variables.set(${jsString(v('Id'))}, '${UNSET}');`);
        plan.expect = { status: 200, unless: { variables: [v('Id')], otherwise: 404, why: 'the list had a record to view' } };
      }
      break;
    case 'authWithPassword':
      Object.assign(plan.values, { identity: ref(v('Identity')), password });
      plan.keep.push(keep(v('Token'), 'pm.response.json().token'));
      break;
    case 'authRefresh':
      plan.token = v('Token');
      break;
    case 'requestEmailChange':
      // as the record itself: a superuser changes an address directly
      plan.token = v('Token');
      plan.values.newEmail = '{{$randomEmail}}';
      break;
    case 'requestOtp':
      plan.values.email = ref(v('Email'));
      plan.keep.push(keep(v('OtpId'), 'pm.response.json().otpId'));
      break;
    case 'authWithOtp':
      Object.assign(plan.values, { otpId: ref(v('OtpId')), password: ref(v('OtpPassword')) });
      plan.expect = mailed(200, v('OtpPassword'), 'the code mailed to the record');
      break;
    case 'requestVerification':
    case 'requestPasswordReset':
      plan.values.email = ref(v('Email'));
      break;
    case 'confirmVerification':
      plan.values.token = ref(v('VerificationToken'));
      plan.expect = mailed(204, v('VerificationToken'), 'the token mailed to the record');
      break;
    case 'confirmPasswordReset':
      Object.assign(plan.values, { token: ref(v('PasswordResetToken')), password, passwordConfirm: password });
      plan.expect = mailed(204, v('PasswordResetToken'), 'the token mailed to the record');
      break;
    case 'confirmEmailChange':
      Object.assign(plan.values, { token: ref(v('EmailChangeToken')), password });
      plan.expect = mailed(204, v('EmailChangeToken'), 'the token mailed to the new address');
      break;
  }
}

/** An operation of the shared routes (sessions, files). */
function planShared(plan: Plan, op: Operation, used: Set<string>): void {
  switch (op.operationId) {
    case 'createSession':
      used.add('refreshToken').add('sessionId');
      plan.keep.push(keep('refreshToken', 'pm.response.json().refreshToken'), keep('sessionId', 'pm.response.json().session.id'));
      break;
    case 'refreshSession':
      plan.values.refreshToken = '{{refreshToken}}';
      plan.keep.push(keep('refreshToken', 'pm.response.json().refreshToken'));
      break;
    case 'deleteSession':
      plan.path.id = '{{sessionId}}';
      break;
    case 'fileDownload': {
      const names = ['fileCollection', 'fileRecordId', 'fileName'];
      for (const n of names) used.add(n);
      Object.assign(plan.path, { collection: '{{fileCollection}}', recordId: '{{fileRecordId}}', filename: '{{fileName}}' });
      plan.before.push(...names.map((n) => `if (!pm.variables.get('${n}')) pm.variables.set('${n}', '${UNSET}');`));
      plan.expect = { status: 200, unless: { variables: names, otherwise: 404, why: 'they name a file of a record' } };
      break;
    }
  }
}

/** The Postman request of one operation, as planned. */
