// Versioned prompt files (prompts/<name>.v<N>.md). A file holds `## system` and `## user` sections with
// {{var}} placeholders; the version string (`<name>.v<N>`) is recorded with every reply and is part of
// the reply-cache key, so editing a prompt means adding a new version file.
import * as fs from 'node:fs';
import * as path from 'node:path';

export const PROMPTS_DIR = path.resolve(__dirname, '../../prompts');

/** The prompt versions in use (bump here when a new file version is added). */
export const PROMPT_VERSIONS = {
  target: 'target-answer.v1',
  judgeSelect: 'judge-select.v1',
  judgeGenerate: 'judge-generate.v1',
  agent: 'agent-score.v1',
  corrective: 'corrective.v1',
} as const;

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string | ({ type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string } })[];
}

const cache = new Map<string, { system?: string; user: string }>();

function load(version: string): { system?: string; user: string } {
  let p = cache.get(version);
  if (p) return p;
  const file = path.join(PROMPTS_DIR, `${version}.md`);
  const text = fs.readFileSync(file, 'utf8');
  const sections: Record<string, string> = {};
  let cur: string | undefined;
  for (const line of text.split('\n')) {
    const m = /^## (system|user)\s*$/.exec(line);
    if (m) {
      cur = m[1]!;
      sections[cur] = '';
    } else if (cur) sections[cur] += line + '\n';
  }
  if (!sections.user) throw new Error(`prompt ${file} has no "## user" section`);
  p = { system: sections.system?.trim(), user: sections.user.trim() };
  cache.set(version, p);
  return p;
}

export function fill(template: string, vars: Record<string, string | number>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (_m, k: string) => {
    if (!(k in vars)) throw new Error(`prompt variable {{${k}}} not supplied`);
    return String(vars[k]);
  });
}

/** Renders a prompt version into chat messages. */
export function renderPrompt(version: string, vars: Record<string, string | number>): ChatMessage[] {
  const p = load(version);
  const out: ChatMessage[] = [];
  if (p.system) out.push({ role: 'system', content: fill(p.system, vars) });
  out.push({ role: 'user', content: fill(p.user, vars).replace(/\n{3,}/g, '\n\n') });
  return out;
}
