import { stackDown } from '../infra/stack';

export default async function globalTeardown(): Promise<void> {
  // A stack we found running stays running; one we started goes down unless asked to stay.
  if (process.env.MMEDPO_TEST_STACK_REUSED === '1' || process.env.MMEDPO_KEEP_TEST_STACK === '1') return;
  await stackDown({ home: process.env.MMEDPO_TEST_STACK_HOME });
}
