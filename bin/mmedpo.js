#!/usr/bin/env node
// Runs the TypeScript CLI directly through tsx so a checkout never holds a stale build.
'use strict';
// The AWS SDK warns that future releases need Node 22; it is noise for users on Node 20.
const emit = process.emitWarning;
process.emitWarning = function (w, ...rest) {
  const name = typeof w === 'object' && w ? w.name : rest[0] && (rest[0].type || rest[0]);
  if (name === 'NodeVersionSupportWarning') return;
  return emit.call(process, w, ...rest);
};
require('tsx/cjs/api').register();
require('../cli/main.ts');
