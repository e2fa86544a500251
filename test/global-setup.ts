// Starts (or reuses) a dedicated test stack — real Temporal dev server + real
// MinIO — on free ports under .mmedpo/test-stack, so a developer's own stack on
// the default ports is never touched. Coordinates reach the test workers through env.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { freePort, PROJECT_ROOT, stackEnv, stackStatus, stackUp } from '../infra/stack';

export const TEST_STACK_HOME = path.join(PROJECT_ROOT, '.mmedpo', 'test-stack');

export default async function globalSetup(): Promise<void> {
  const status = await stackStatus({ home: TEST_STACK_HOME });
  let info;
  if (status.temporalUp && status.minioUp) {
    info = status;
    process.env.MMEDPO_TEST_STACK_REUSED = '1';
  } else {
    // Keep the same ports across restarts of a kept stack where possible (its db knows them not, but logs read better).
    fs.mkdirSync(TEST_STACK_HOME, { recursive: true });
    info = await stackUp({
      home: TEST_STACK_HOME,
      temporalPort: await freePort(),
      uiPort: await freePort(),
      minioPort: await freePort(),
      minioConsolePort: await freePort(),
      headless: false,
    });
    process.env.MMEDPO_TEST_STACK_REUSED = '0';
  }
  process.env.MMEDPO_TEST_STACK_HOME = TEST_STACK_HOME;
  Object.assign(process.env, stackEnv(info));
}
