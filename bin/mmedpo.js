#!/usr/bin/env node
// Runs the TypeScript CLI directly through tsx so a checkout never holds a stale build.
'use strict';
// The AWS SDK warns that releases after 2027-01 need Node 22; noise for Node 20 users.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
require('tsx/cjs/api').register();
require('../cli/main.ts');
