#!/usr/bin/env node
// Prints the OLPC canonical JSON encoding of each document, as the TUF interop reference
// (@tufjs/canonical-json) produces it, so that airlock's json::canonical can be compared byte for byte.
// Input: a JSON array of documents, from the file named by the first argument or from stdin.
// Output: one line per document, the canonical bytes (UTF-8) in base64.
// Exit status: 0 on success, 1 when the input cannot be read or parsed or a document cannot be encoded.
'use strict';

const fs = require('fs');
const { canonicalize } = require('@tufjs/canonical-json');

function main() {
  const text = fs.readFileSync(process.argv[2] === undefined ? 0 : process.argv[2], 'utf8');
  const docs = JSON.parse(text);
  if (!Array.isArray(docs)) throw new Error('input must be a JSON array of documents');
  for (const doc of docs) {
    process.stdout.write(Buffer.from(canonicalize(doc), 'utf8').toString('base64') + '\n');
  }
}

try {
  main();
} catch (err) {
  process.stderr.write(`canonical_json.js: ${err.message}\n`);
  process.exitCode = 1;
}
