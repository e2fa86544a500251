import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { configHash, loadCampaignConfig } from '../../lib/config-file';

function write(name: string, text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmedpo-cfg-'));
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
}

describe('config files', () => {
  it('loads YAML with env overrides; equal configs hash equal', () => {
    const f = write('c.yaml', 'name: demo\nseed: 3\ndebate:\n  rounds: 4\n');
    const c = loadCampaignConfig(f, { MMEDPO__SEED: '9' });
    expect(c).toMatchObject({ name: 'demo', seed: 9, debate: { rounds: 4 } });
    expect(configHash(c)).toBe(configHash(loadCampaignConfig(write('d.json', JSON.stringify({ seed: 9, name: 'demo', debate: { rounds: 4 } })), {})));
  });
  it('names the file and the problem', () => {
    expect(() => loadCampaignConfig(write('bad.yaml', 'debate: [1,\n'), {})).toThrow(/bad\.yaml is not valid YAML/);
    expect(() => loadCampaignConfig('/nonexistent/x.yaml', {})).toThrow(/cannot read config \/nonexistent\/x\.yaml: ENOENT/);
    expect(() => loadCampaignConfig(write('e.yaml', 'normalization:\n  alpha: high\n'), {})).toThrow(/normalization\.alpha: got "high"/);
  });
});
