// Loads a campaign config from YAML or JSON, applies MMEDPO__* env overrides and
// validates it through the one schema (core/config.ts).
import * as fs from 'node:fs';
import * as YAML from 'yaml';
import { applyEnvOverrides, CampaignConfig, ConfigError, parseCampaignConfig } from '../core/config';
import { hashJson } from './hash';

export function loadCampaignConfig(file?: string, env: NodeJS.ProcessEnv = process.env): CampaignConfig {
  let raw: unknown = {};
  if (file) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read config ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, []);
    }
    try {
      raw = file.endsWith('.json') ? JSON.parse(text) : YAML.parse(text);
    } catch (e) {
      throw new ConfigError(`${file} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(e as Error).message.split('\n')[0]}`, []);
    }
    if (raw === null || raw === undefined) raw = {};
    if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${file} must hold a mapping of settings`, []);
  }
  return parseCampaignConfig(applyEnvOverrides(raw as Record<string, unknown>, env), file ?? 'config');
}

/** Short stable hash of a validated config (recorded in memo and manifest). */
export function configHash(c: CampaignConfig): string {
  return hashJson(c).slice(0, 16);
}
