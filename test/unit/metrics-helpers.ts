// Shared imports for the metrics unit tests.
import { OBSERVATIONS, type Observation } from '../../core/chexpert';
export * from '../../core/metrics';
export const OBSERVATIONS_ZERO = Object.fromEntries(OBSERVATIONS.map((o) => [o, 0])) as Record<Observation, 0 | 1>;
