import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './stack.js';

/** One command of the README's tour as a reader would type it, with the output its comments promise. */
export interface TourCommand {
  /** The command exactly as written (continuation lines included). */
  text: string;
  /** The `# ...` lines right under it: what the README says it prints. */
  promised: string;
}

/**
 * The `sh` code blocks of README.md's "A 5-minute tour" section, split into commands. A command
 * ends at a line end outside any quote and not after a backslash, so the multi-line `-d '[...]'`
 * and `\`-continued curl lines stay one command each.
 */
export function readmeTour(readme = readFileSync(join(ROOT, 'README.md'), 'utf8')): TourCommand[] {
  const section = readme.split(/^## /m).find((s) => s.startsWith('A 5-minute tour'));
  if (!section) throw new Error('README.md has no "## A 5-minute tour" section');
  const blocks = [...section.matchAll(/^```sh\n([\s\S]*?)^```/gm)].map((m) => m[1]!);
  const commands: TourCommand[] = [];
  for (const block of blocks) {
    let pending = '';
    for (const line of block.split('\n')) {
      if (!pending && /^\s*#/.test(line)) {
        const last = commands.at(-1);
        if (last) last.promised += `${line.replace(/^\s*#\s?/, '')}\n`;
        continue;
      }
      if (!pending && !line.trim()) continue;
      pending += pending ? `\n${line}` : line;
      if (isComplete(pending)) {
        commands.push({ text: pending, promised: '' });
        pending = '';
      }
    }
    if (pending) throw new Error(`README tour: unterminated command:\n${pending}`);
  }
  return commands;
}

/** True when the shell text ends outside quotes and not with a line continuation. */
function isComplete(text: string): boolean {
  let quote: "'" | '"' | "$'" | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote === "'") {
      if (c === "'") quote = null;
    } else if (quote === '"' || quote === "$'") {
      if (c === '\\') i++;
      else if ((quote === '"' && c === '"') || (quote === "$'" && c === "'")) quote = null;
    } else if (c === '\\') {
      if (i === text.length - 1) return false; // a continuation
      i++;
    } else if (c === '$' && text[i + 1] === "'") {
      quote = "$'";
      i++;
    } else if (c === "'" || c === '"') {
      quote = c;
    } else if (c === '#' && (i === 0 || /\s/.test(text[i - 1]!))) {
      // a trailing comment: the rest of the line is not shell
      const end = text.indexOf('\n', i);
      if (end === -1) return true;
      i = end - 1;
    }
  }
  return quote === null;
}

/**
 * A promised output as a pattern: the README elides with `…`, which matches anything; the rest
 * must appear as written (line breaks and the comment's indentation do not count).
 */
export function promisedPattern(promised: string): RegExp {
  const flat = promised
    .split('\n')
    .map((l) => l.trim())
    .join('');
  const escaped = flat
    .split('…')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('[\\s\\S]*?');
  return new RegExp(escaped);
}
