#!/usr/bin/env node
// The code's shape: the largest source files and the longest functions of the server package
// (tests excluded), so "largest file under ~500 lines, longest function under ~80" is a command,
// not a claim. `node scripts/shape.mjs [--files=N] [--functions=N]` lists what passes each bound.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

const root = new URL('../packages/mainspring/src/', import.meta.url).pathname;
const arg = (name, fallback) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const fileBound = arg('files', 500);
const functionBound = arg('functions', 80);

function* sources(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sources(path);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && !entry.name.endsWith('.d.ts')) yield path;
  }
}

const files = [];
const functions = [];
for (const path of sources(root)) {
  const text = readFileSync(path, 'utf8');
  const name = relative(root, path);
  files.push({ name, lines: text.split('\n').length });
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  const visit = (node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const label =
        node.name?.getText(source) ?? (ts.isArrowFunction(node) || ts.isFunctionExpression(node) ? '(anonymous)' : '(function)');
      functions.push({ name: `${name}:${start + 1} ${label}`, lines: end - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
}

files.sort((a, b) => b.lines - a.lines);
functions.sort((a, b) => b.lines - a.lines);
const over = (list, bound) => list.filter((x) => x.lines > bound);
console.log(`largest files (bound ${fileBound} lines):`);
for (const f of files.slice(0, 8)) console.log(`  ${String(f.lines).padStart(5)}  ${f.name}${f.lines > fileBound ? '  OVER' : ''}`);
console.log(`longest functions (bound ${functionBound} lines):`);
for (const f of functions.slice(0, Number(process.env.TOP ?? 8)))
  console.log(`  ${String(f.lines).padStart(5)}  ${f.name}${f.lines > functionBound ? '  OVER' : ''}`);
console.log(
  `${over(files, fileBound).length} files over ${fileBound} lines, ${over(functions, functionBound).length} functions over ${functionBound} lines`,
);
