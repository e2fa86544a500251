// Starts (or reuses) a dedicated test stack — real Temporal dev server + real
// MinIO + the codec server — on free ports under .mmedpo/test-stack, so a developer's own stack on
// the default ports is never touched. Coordinates (and the stack's payload key file: tests run
// encrypted, as everything does by default) reach the test workers through env.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { freePort } from '../lib/ports';
import { PROJECT_ROOT, stackEnv, stackStatus, stackUp } from '../infra/stack';

export const TEST_STACK_HOME = path.join(PROJECT_ROOT, '.mmedpo', 'test-stack');

export default async function globalSetup(): Promise<void> {
  const status = await stackStatus({ home: TEST_STACK_HOME });
  process.env.MMEDPO_TEST_STACK_REUSED = status.temporalUp && status.minioUp ? '1' : '0';
  fs.mkdirSync(TEST_STACK_HOME, { recursive: true });
  // Always through stackUp: it keeps what runs and starts (or upgrades) the rest; the stack's
  // secrets (payload keys, MinIO's KMS key) are generated once and survive every restart.
  const info = await stackUp({
    home: TEST_STACK_HOME,
    temporalPort: await freePort(),
    uiPort: await freePort(),
    minioPort: await freePort(),
    minioConsolePort: await freePort(),
    codecServerPort: await freePort(),
    headless: false,
  });
  process.env.MMEDPO_TEST_STACK_HOME = TEST_STACK_HOME;
  // Hermetic: no Temporal setting of the developer's shell or envconfig profile (~/.config/temporalio)
  // reaches the tests, e.g. an API key that would turn TLS on against the plaintext test server.
  for (const k of Object.keys(process.env)) if (k.startsWith('TEMPORAL_')) delete process.env[k];
  const noProfiles = path.join(TEST_STACK_HOME, 'no-profiles.toml');
  fs.writeFileSync(noProfiles, '# No profile on purpose: the tests reach their stack through TEMPORAL_ADDRESS (test/global-setup.ts).\n[profile]\n');
  process.env.TEMPORAL_CONFIG_FILE = noProfiles;
  Object.assign(process.env, stackEnv(info));
}
