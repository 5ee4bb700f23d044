// Preloaded into jsii's kernel (node --require) by constructs_lib/jsii_channel.py.
//
// Turns on Node's module compile cache for the packages the kernel loads (aws-cdk-lib, cdk-nag,
// constructs), so a synth does not compile the same JavaScript again on every run.
//
// The kernel loads every package from a fresh temporary directory (jsii-kernel-<random>/
// node_modules, symlinks into jsii's package cache, with --preserve-symlinks), and Node keys
// its compile cache by file path, so with NODE_COMPILE_CACHE alone every run misses. Here the
// cache is opened in portable mode (keys relative to the cache directory) through a symlink
// inside that temporary directory: the keys read "../../node_modules/aws-cdk-lib/...", the same
// on every run, and the entries live in the persistent directory the symlink points to.
//
// An optimisation only: anything that fails leaves the kernel exactly as jsii starts it.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');

const directory = process.env.KMS_TOOLKIT_KERNEL_COMPILE_CACHE_DIR;
const KERNEL_DIRECTORY_PREFIX = 'jsii-kernel-';
const LINK_NAME = '.kms-toolkit-compile-cache';

let enabled = false;

// enableCompileCache({ portable }) arrived in Node 24.12; before it the keys would be absolute
// paths, a miss (and a new entry) on every run.
function supportsPortableCache() {
  const [major, minor] = process.versions.node.split('.').map(Number);
  return major > 24 || (major === 24 && minor >= 12);
}

if (directory && supportsPortableCache()) {
  const mkdtempSync = fs.mkdtempSync;
  let opened = false;
  // Node writes the cache at exit. Registered now, so it runs before jsii's own exit handler
  // removes the temporary directory (and the symlink in it).
  process.once('exit', () => {
    try {
      if (enabled) Module.flushCompileCache();
    } catch {
      // Unwritten entries are compiled again next time.
    }
  });
  fs.mkdtempSync = function (prefix, ...rest) {
    const created = mkdtempSync.call(this, prefix, ...rest);
    if (!opened && path.basename(String(prefix)) === KERNEL_DIRECTORY_PREFIX) {
      opened = true;
      openCompileCache(created);
    }
    return created;
  };
}

function openCompileCache(kernelDirectory) {
  try {
    const link = path.join(kernelDirectory, LINK_NAME);
    fs.symlinkSync(directory, link, 'dir');
    const result = Module.enableCompileCache({ directory: link, portable: true });
    enabled = result.status === Module.constants.compileCacheStatus.ENABLED;
  } catch {
    // No cache: the kernel compiles its modules as it always has.
  }
}
