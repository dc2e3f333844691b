/**
 * The API reference page at `/api/ms/docs`: a small page of our own over
 * `openapi.json` (no CDN, no framework), served under the dashboard's strict
 * CSP, so its script and style are files of their own. It lists the
 * operations by collection with their parameters and schemas, and sends a
 * request from a form with an optional token (kept in sessionStorage).
 */

export const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>API reference</title>
<link rel="stylesheet" href="docs/docs.css">
<script src="docs/docs.js" defer></script>
</head>
<body>
<header>
  <h1 id="title">API reference</h1>
  <form id="auth"><label>Token <input id="token" type="password" autocomplete="off" placeholder="Authorization token (optional)"></label>
  <button>Use</button> <a href="openapi.json" id="raw">openapi.json</a></form>
</header>
<nav id="toc"></nav>
<main id="ops"><p>Loading…</p></main>
</body>
</html>
`;

export const DOCS_STYLE = `
body { font: 15px/1.5 system-ui, sans-serif; margin: 0; color: #1d1f24; background: #f6f7f9; }
header { background: #1d1f24; color: #fff; padding: 12px 24px; display: flex; gap: 24px; align-items: center; flex-wrap: wrap; }
header h1 { font-size: 18px; margin: 0; }
header a { color: #9cc3ff; }
nav { padding: 8px 24px; display: flex; gap: 8px; flex-wrap: wrap; }
nav a { background: #e3e7ee; border-radius: 12px; padding: 2px 10px; color: inherit; text-decoration: none; }
main { padding: 0 24px 48px; max-width: 1100px; }
section h2 { border-bottom: 1px solid #ccd; padding-top: 16px; }
details { background: #fff; border: 1px solid #dde; border-radius: 6px; margin: 6px 0; }
summary { cursor: pointer; padding: 6px 10px; display: flex; gap: 10px; align-items: baseline; }
summary code { font-weight: 600; }
.m { display: inline-block; min-width: 58px; text-align: center; border-radius: 4px; color: #fff; font: 600 12px monospace; padding: 2px 0; }
.get { background: #2f7de1; } .post { background: #2a9d5c; } .patch { background: #c98a12; } .delete { background: #d14343; } .put { background: #8a4fd1; }
.body { padding: 0 12px 12px; }
pre { background: #f3f4f7; padding: 8px; overflow: auto; max-height: 360px; font-size: 13px; }
table { border-collapse: collapse; } td, th { text-align: left; padding: 2px 10px 2px 0; vertical-align: top; }
textarea { width: 100%; min-height: 120px; font: 13px monospace; }
input { font: inherit; }
.status { font-weight: 600; }
`;

export const DOCS_SCRIPT = `'use strict';
const tokenInput = document.getElementById('token');
tokenInput.value = sessionStorage.getItem('ms-docs-token') || '';
document.getElementById('auth').addEventListener('submit', (e) => {
  e.preventDefault();
  sessionStorage.setItem('ms-docs-token', tokenInput.value.trim());
  load();
});

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') node.className = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

function headers() {
  const t = tokenInput.value.trim();
  return t ? { Authorization: t } : {};
}

let doc;
function resolve(schema, depth = 0) {
  if (!schema || depth > 4) return schema;
  if (schema.$ref) return resolve(doc.components.schemas[schema.$ref.split('/').pop()], depth + 1);
  if (schema.type === 'array' && schema.items) return { ...schema, items: resolve(schema.items, depth + 1) };
  if (schema.properties) {
    const properties = {};
    for (const [k, v] of Object.entries(schema.properties)) properties[k] = resolve(v, depth + 1);
    return { ...schema, properties };
  }
  return schema;
}

function example(schema, depth = 0) {
  schema = resolve(schema);
  if (!schema || depth > 3) return null;
  if (schema.enum) return schema.enum[0];
  if (schema.type === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(schema.properties || {})) {
      if ((schema.required || []).includes(k) || depth === 0) out[k] = example(v, depth + 1);
    }
    return out;
  }
  if (schema.type === 'array') return [];
  if (schema.type === 'integer' || schema.type === 'number') return schema.minimum ?? 0;
  if (schema.type === 'boolean') return false;
  if (schema.type === 'string') return '';
  return null;
}

function response(ref) {
  return ref && ref.$ref ? doc.components.responses[ref.$ref.split('/').pop()] : ref;
}

function operation(path, method, op) {
  const params = op.parameters || [];
  const body = op.requestBody && op.requestBody.content['application/json'];
  const inputs = {};
  const rows = params.map((p) => {
    inputs[p.in + ':' + p.name] = el('input', { placeholder: p.schema && p.schema.default !== undefined ? String(p.schema.default) : '' });
    return el('tr', {}, el('td', {}, el('code', {}, p.name)), el('td', {}, p.in + (p.required ? ', required' : '')), el('td', {}, p.description || ''), el('td', {}, inputs[p.in + ':' + p.name]));
  });
  const text = body ? el('textarea', {}, JSON.stringify(example(body.schema), null, 2)) : null;
  const out = el('pre', {});
  const status = el('span', { class: 'status' });
  const send = el('button', { type: 'button' }, 'Send');
  send.addEventListener('click', async () => {
    let url = (doc.servers[0].url === '/' ? '' : doc.servers[0].url) + path;
    const query = new URLSearchParams();
    const h = headers();
    for (const p of params) {
      const v = inputs[p.in + ':' + p.name].value;
      if (v === '') continue;
      if (p.in === 'path') url = url.replace('{' + p.name + '}', encodeURIComponent(v));
      else if (p.in === 'query') query.set(p.name, v);
      else if (p.in === 'header') h[p.name] = v;
    }
    if ([...query].length) url += '?' + query;
    const init = { method: method.toUpperCase(), headers: h };
    if (text) {
      init.body = text.value;
      h['Content-Type'] = 'application/json';
    }
    status.textContent = '…';
    try {
      const res = await fetch(url, init);
      status.textContent = res.status + ' ' + res.statusText;
      const type = res.headers.get('content-type') || '';
      const raw = type.includes('event-stream') ? '(an event stream)' : await res.text();
      try { out.textContent = JSON.stringify(JSON.parse(raw), null, 2); } catch { out.textContent = raw; }
      if (type.includes('event-stream')) res.body.cancel();
    } catch (err) {
      status.textContent = String(err);
    }
  });
  const responses = el('table', {}, ...Object.entries(op.responses || {}).map(([code, r]) => {
    const res = response(r);
    const schema = res && res.content && res.content['application/json'] && res.content['application/json'].schema;
    return el('tr', {}, el('td', {}, el('code', {}, code)), el('td', {}, res ? res.description : ''), el('td', {}, schema ? el('details', {}, el('summary', {}, 'schema'), el('pre', {}, JSON.stringify(resolve(schema), null, 2))) : ''));
  }));
  return el('details', {},
    el('summary', {}, el('span', { class: 'm ' + method }, method.toUpperCase()), el('code', {}, path), el('span', {}, op.summary || '')),
    el('div', { class: 'body' },
      op.description ? el('p', {}, op.description) : null,
      op.security && op.security.length === 1 ? el('p', {}, 'Needs a token.') : null,
      rows.length ? el('table', {}, ...rows) : null,
      body ? el('div', {}, el('h4', {}, 'Body (JSON)'), el('details', {}, el('summary', {}, 'schema'), el('pre', {}, JSON.stringify(resolve(body.schema), null, 2))), text) : null,
      el('h4', {}, 'Responses'), responses,
      el('p', {}, send, ' ', status), out));
}

async function load() {
  const res = await fetch('openapi.json', { headers: headers() });
  doc = await res.json();
  document.getElementById('title').textContent = doc.info.title + ' — API reference';
  document.title = doc.info.title + ' API';
  const byTag = new Map();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const tag = (op.tags || ['other'])[0];
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push(operation(path, method, op));
    }
  }
  const toc = document.getElementById('toc');
  const ops = document.getElementById('ops');
  toc.replaceChildren(...[...byTag.keys()].map((t) => el('a', { href: '#tag-' + t }, t)));
  ops.replaceChildren(...[...byTag.entries()].map(([t, list]) => {
    const info = (doc.tags || []).find((x) => x.name === t);
    return el('section', { id: 'tag-' + t }, el('h2', {}, t), info ? el('p', {}, info.description) : null, ...list);
  }));
}
load().catch((err) => { document.getElementById('ops').textContent = 'Could not load openapi.json: ' + err; });
`;
