// Pure "GUI talk" translation (seed "Backend Response Translation"; chatbot-anchors.md §4.4). The cloud agent
// writes as if the user sat in front of its web editor. Our users have no buttons, panels or timeline, so each
// sentence that tells them to use one is taken out of the reply and becomes an action the bot performs instead:
//   "click [button]" / "点击"      → do it through the API       (export when the button exports, else an edit)
//   "open [panel]" / "打开"        → query session state         ('state')
//   "drag/drop" / "拖拽"           → send the edit               ('edit')
//   "preview in timeline"          → show the track summary      ('state')
//   "Export button" / "导出"       → run the export workflow     ('export')
export type GuiActionKind = 'export' | 'state' | 'edit';

export interface GuiAction {
  kind: GuiActionKind;
  /** The sentence that asked for it, for logs and for an edit the bot forwards. */
  source: string;
}

export interface Translated {
  /** The reply with GUI instructions removed; may be empty. */
  text: string;
  /** At most one action per kind, in the order first asked for. */
  actions: GuiAction[];
}

const EXPORT_WORDS = String.raw`(?:export|download|render|save\s+(?:the\s+)?video)`;
const RULES: readonly { kind: GuiActionKind; re: RegExp }[] = [
  // Export first: "click Export" is an export, not a generic click.
  {
    kind: 'export',
    re: new RegExp(String.raw`\b(?:click|tap|press|hit|select|use)\b.{0,60}?\b${EXPORT_WORDS}\b`, 'iu'),
  },
  { kind: 'export', re: new RegExp(String.raw`\b${EXPORT_WORDS}\s+(?:button|icon|menu|option)\b`, 'iu') },
  // "已导出" ("exported") reports a fact; only the bare verb asks the user to export.
  { kind: 'export', re: /(?<!已)导出/u },
  // Panels, tabs and the timeline are places to look at: the bot shows the state instead.
  {
    kind: 'state',
    re: /\b(?:open|go\s+to|switch\s+to|look\s+at|check)\b.{0,40}?\b(?:panel|tab|sidebar|side\s+bar|menu|window|inspector|library|settings|properties|toolbar)\b/iu,
  },
  { kind: 'state', re: /\b(?:preview|view|see|check|look\s+at)\b.{0,40}?\btimeline\b/iu },
  { kind: 'state', re: /\b(?:preview|play)\b.{0,30}?\b(?:player|preview\s+window)\b/iu },
  {
    kind: 'state',
    re: /打开|(?:预览|查看).{0,10}(?:时间线|时间轴)|在(?:时间线|时间轴)(?:上|中)?(?:预览|查看)/u,
  },
  // Dragging clips or handles is an edit the bot sends as words.
  { kind: 'edit', re: /\b(?:drag|drop)(?:\s+and\s+drop)?\b/iu },
  { kind: 'edit', re: /拖拽|拖动|拖放/u },
  // Any other click (Apply, Save, Add, …) is done through the API as an edit.
  { kind: 'edit', re: /\b(?:click|double-click|right-click|tap\s+on|press)\b/iu },
  { kind: 'edit', re: /点击|单击|双击/u },
];

/** Sentences of one line: split after . ! ? followed by a space (so "1.5 MB" stays whole) and after 。！？. */
function sentences(line: string): string[] {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] ?? '';
    const next = line[i + 1];
    const western = (c === '.' || c === '!' || c === '?') && (next === undefined || /\s/u.test(next));
    const cjk = c === '。' || c === '！' || c === '？';
    if (western || cjk) {
      let end = i + 1;
      while (end < line.length && /\s/u.test(line[end] ?? '')) end++;
      parts.push(line.slice(start, end));
      start = end;
      i = end - 1;
    }
  }
  if (start < line.length) parts.push(line.slice(start));
  return parts;
}

/** Markdown emphasis and quotes around button names must not hide the words ("Click **Export**"). */
const plain = (s: string): string => s.replace(/[*_`"'“”‘’「」【】[\]]/gu, '');

function classify(sentence: string): GuiActionKind | null {
  const p = plain(sentence);
  for (const rule of RULES) if (rule.re.test(p)) return rule.kind;
  return null;
}

/** Removes GUI instructions from an agent reply and lists what the bot should do in their place. */
export function translateGuiTalk(reply: string): Translated {
  const actions: GuiAction[] = [];
  const kept: string[] = [];
  for (const line of reply.split(/\r?\n/u)) {
    const out: string[] = [];
    for (const sentence of sentences(line)) {
      const kind = classify(sentence);
      if (kind === null) {
        out.push(sentence);
        continue;
      }
      if (!actions.some((a) => a.kind === kind)) {
        actions.push({ kind, source: sentence.trim().replace(/^[>*\-+•#\s]+/u, '') });
      }
    }
    const joined = out.join('').trimEnd();
    const hadContent = line.trim() !== '';
    // A list item or heading whose only sentence was a GUI instruction disappears with its bullet.
    if (hadContent && /^[\s>*\-+•\d.)#]*$/u.test(joined)) continue;
    kept.push(joined);
  }
  const text = kept
    .join('\n')
    .replace(/\n{3,}/gu, '\n\n')
    .trim();
  return { text, actions };
}
