#!/usr/bin/env node
// A TUF client built on tuf-js (the independent reference implementation), for the interop test
// tests/integration/tufjs_accepts_our_published_repository.sh.
//
//   node tufjs_client.js METADATA_BASE_URL TARGET_BASE_URL TRUSTED_ROOT TARGET_NAME OUT_PATH
//
// Starts from TRUSTED_ROOT (copied to a fresh metadata directory as root.json), runs the whole client
// workflow (refresh: root chain, timestamp, snapshot, targets), looks TARGET_NAME up and downloads it to
// OUT_PATH (tuf-js checks its length and hashes). HTTPS uses Node's trust store: set NODE_EXTRA_CA_CERTS.
//
// Output on success (stdout, one JSON object): the versions of root, timestamp, snapshot and targets that
// tuf-js trusted at the end (read back from the files it persisted, since its trusted set is private),
// and the target's length, hashes and custom field.
// Exit status: 0 on success; 1 when tuf-js refuses the repository or anything else fails (error on stderr);
// 2 for a usage error.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { Updater } = require('tuf-js');

function usage() {
  process.stderr.write('usage: tufjs_client.js METADATA_BASE_URL TARGET_BASE_URL TRUSTED_ROOT TARGET_NAME OUT_PATH\n');
  process.exit(2);
}

function versionOf(metadataDir, role) {
  const file = path.join(metadataDir, `${role}.json`);
  if (!fs.existsSync(file)) return null;
  return JSON.parse(fs.readFileSync(file, 'utf8')).signed.version;
}

async function main(args) {
  if (args.length !== 5) usage();
  const [metadataBaseUrl, targetBaseUrl, trustedRoot, targetName, outPath] = args;
  const metadataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tufjs-metadata-'));
  try {
    fs.copyFileSync(trustedRoot, path.join(metadataDir, 'root.json'));
    const updater = new Updater({ metadataDir, metadataBaseUrl, targetBaseUrl, targetDir: path.dirname(outPath) });
    await updater.refresh();
    const info = await updater.getTargetInfo(targetName);
    if (!info) throw new Error(`target ${targetName} is not in the repository's targets`);
    await updater.downloadTarget(info, outPath);
    const result = {
      trusted: {
        root: versionOf(metadataDir, 'root'),
        timestamp: versionOf(metadataDir, 'timestamp'),
        snapshot: versionOf(metadataDir, 'snapshot'),
        targets: versionOf(metadataDir, 'targets'),
      },
      target: { path: info.path, length: info.length, hashes: info.hashes, custom: info.custom },
    };
    process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    fs.rmSync(metadataDir, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).catch((err) => {
  const kind = err && err.constructor ? err.constructor.name : 'Error';
  process.stderr.write(`tufjs_client.js: ${kind}: ${err && err.message}\n`);
  process.exit(1);
});
