/**
 * Fills the generated tables of README.md and docs/**\/*.md from the library's registries, so
 * that they cannot drift from the code. A table lives between two markers:
 *
 *   <!-- tables:rules -->
 *   (generated; anything here is replaced)
 *   <!-- /tables:rules -->
 *
 * Tables: `rules` (ruleDefinitions()), `composites` (compositeDefinitions()), `layers`
 * (layerTable()), `ops` (opTable(): graph-model ops), `groups` (GROUP_DEFAULTS), `options` (the ExplainOptions interface of
 * src/options.ts and src/methods.ts, read with the TypeScript compiler: name, default, what it does).
 *
 *   npm run docs:tables            rewrite the blocks in place
 *   npm run docs:tables -- --check exit 1 and name every stale block (CI: test/docs-tables.test.ts)
 *   ... --root DIR                 the markdown files of another folder (tests)
 */
import * as fs from 'fs';
import * as path from 'path';
import { globSync } from 'tinyglobby';
import * as ts from 'typescript';
import { compositeDefinitions, GROUP_DEFAULTS, LAYER_GROUPS, layerTable, ruleDefinitions } from '../src';
import type { CompositeEntrySpec, RuleDefinition, RuleParameterSpec } from '../src';
import { matchInWords } from '../rules/composites';
import { opTable } from '../src/graphModel/registry';

const ROOT = path.join(__dirname, '..');

/** A markdown table from a header and rows (cells escaped: `|` and line breaks). */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const cell = (s: string) => s.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|').trim();
  const line = (cells: readonly string[]) => `| ${cells.map(cell).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

const code = (s: string) => `\`${s}\``;

/** A default value as people write it: `1e-6`, not `0.000001`. */
export function numberInWords(v: number): string {
  return v !== 0 && Math.abs(v) < 1e-3 ? v.toExponential() : String(v);
}

/** A rule parameter in words: `` `epsilon` = 1e-6 ``, `` `low` (required; number or tensor) ``. */
function parameterInWords(p: RuleParameterSpec): string {
  const extras = [p.required === true ? 'required' : '', p.tensor === true ? 'number or tensor' : ''].filter((s) => s !== '');
  const value = p.default !== undefined ? ` = ${numberInWords(p.default)}` : '';
  return `${code(p.name)}${value}${extras.length > 0 ? ` (${extras.join('; ')})` : ''}`;
}

function appliesToInWords(d: RuleDefinition): string {
  if (d.appliesTo === 'linear') return 'Dense/Conv';
  if (d.appliesTo === 'any') return 'any layer';
  return 'unknown';
}

/** `rules`: every registered rule with what it does, where it applies, its parameters and whether it can be the first-layer rule. */
export function rulesTable(): string {
  const rows = ruleDefinitions().map((d) => [
    code(d.name),
    d.summary,
    appliesToInWords(d),
    d.params.length === 0 ? '—' : d.params.map(parameterInWords).join(', '),
    d.firstLayer ? 'yes' : 'no',
    d.references.zennit ?? '—',
  ]);
  return markdownTable(['Rule', 'What it does', 'Applies to', 'Parameters (default)', 'First layer', 'zennit'], rows);
}

function entryInWords(e: CompositeEntrySpec): string {
  const fixed = e.fixed === undefined ? [] : Object.entries(e.fixed).map(([k, v]) => `${k} = ${numberInWords(v as number)}`);
  return `${matchInWords(e.match)}: ${code(e.rule)}${fixed.length > 0 ? ` (${fixed.join(', ')})` : ''}`;
}

/** `composites`: every built-in composite with its rule per layer group/position (first match wins) and the options it reads. */
export function compositesTable(): string {
  const rows = compositeDefinitions().map((d) => [
    code(d.name),
    d.summary,
    d.entries.map(entryInWords).join('; '),
    d.params.length === 0 ? '—' : d.params.map((p) => (d.requires.includes(p) ? `${code(p)} (required)` : code(p))).join(', '),
    d.references.zennit ?? '—',
  ]);
  return markdownTable(['Composite', 'What it does', 'Rule per layer (first match wins; other layers: their group default)', 'Options', 'zennit'], rows);
}

/** `layers`: every Keras class tfjs-lrp explains, its group and its default rule. */
export function layersTable(): string {
  const rows = layerTable().map((r) => [code(r.className), code(r.group), r.defaultRule === 'none' ? 'the rule or composite' : code(r.defaultRule), r.note]);
  return markdownTable(['Keras class', 'Group', 'Default rule', 'Why'], rows);
}

/** `ops`: every registered graph-model op (tf.GraphModel) with its handling, then the refused ops (opTable()). */
export function opsTable(): string {
  const rows = opTable().map((r) => [r.op.split(', ').map(code).join(', '), r.handling, r.note]);
  return markdownTable(['TF op', 'Handling (group)', 'Why'], rows);
}

/** `groups`: the default rule of each layer group (GROUP_DEFAULTS). */
export function groupsTable(): string {
  const rows = LAYER_GROUPS.map((g) => [code(g), GROUP_DEFAULTS[g].rule === null ? '—' : code(GROUP_DEFAULTS[g].rule as string), GROUP_DEFAULTS[g].why]);
  return markdownTable(['Group', 'Default rule', 'Why'], rows);
}

/** One documented option of an interface. */
export interface OptionDoc {
  readonly name: string;
  /** The text after "Default" in its doc comment (or the value marked "(default)"), `—` if none. */
  readonly defaultValue: string;
  /** Its doc comment less the default sentence. */
  readonly description: string;
}

/** The properties of interface `name` in `file` and the interfaces it extends (from the same program), in declaration order, parents last. */
export function interfaceOptions(files: readonly string[], name: string): OptionDoc[] {
  const declarations = new Map<string, ts.InterfaceDeclaration>();
  for (const f of files) {
    const sf = ts.createSourceFile(f, fs.readFileSync(f, 'utf8'), ts.ScriptTarget.ES2019, true);
    sf.forEachChild((node) => {
      if (ts.isInterfaceDeclaration(node)) declarations.set(node.name.text, node);
    });
  }
  const out: OptionDoc[] = [];
  const visit = (interfaceName: string) => {
    const decl = declarations.get(interfaceName);
    if (decl === undefined) throw new Error(`docs-tables: interface ${interfaceName} not found in ${files.join(', ')}`);
    for (const member of decl.members) {
      if (!ts.isPropertySignature(member) || member.name === undefined) continue;
      const docs = ts.getJSDocCommentsAndTags(member).filter(ts.isJSDoc);
      const text = docs.map((d) => ts.getTextOfJSDocComment(d.comment) ?? '').join(' ').replace(/\s+/g, ' ').trim();
      out.push({ name: member.name.getText(), ...splitDefault(text) });
    }
    for (const clause of decl.heritageClauses ?? []) for (const t of clause.types) visit(t.expression.getText());
  };
  visit(name);
  return out;
}

/** Splits "ε of the epsilon rule. Default 1e-6." into the default (`1e-6`) and the rest. */
export function splitDefault(text: string): { defaultValue: string; description: string } {
  const m = /(?:^|\s)Default:?\s+(.+?)\.(?=\s|$)/.exec(text);
  if (m !== null) return { defaultValue: m[1].trim(), description: text.replace(m[0], ' ').replace(/\s+/g, ' ').trim() };
  const marked = /`([^`]+)`\s*\(default\)/.exec(text);
  return { defaultValue: marked !== null ? code(marked[1]) : '—', description: text };
}

/** The first sentence of a text (up to ". " or the end). */
function firstSentence(text: string): string {
  const m = /^(.+?\.)(?:\s|$)/.exec(text);
  return m === null ? text : m[1];
}

/** `options`: the explain options (ExplainOptions with the gradient methods' options), name and default. */
export function optionsTable(): string {
  const files = [path.join(ROOT, 'src', 'options.ts'), path.join(ROOT, 'src', 'methods.ts')];
  const rows = interfaceOptions(files, 'ExplainOptions').map((o) => {
    const required = /(?:^|\s)(Required[^.]*\.)/.exec(o.description);
    return [code(o.name), o.defaultValue === '—' && required !== null ? 'required when used' : o.defaultValue, [firstSentence(o.description), ...(required !== null ? [required[1]] : [])].join(' ')];
  });
  return markdownTable(['Option', 'Default', 'What it does'], rows);
}

/** The generators by table name. */
export const TABLES: Readonly<Record<string, () => string>> = {
  rules: rulesTable,
  composites: compositesTable,
  layers: layersTable,
  ops: opsTable,
  groups: groupsTable,
  options: optionsTable,
};

/** One `<!-- tables:NAME -->` block of a file. */
export interface TableBlock {
  readonly name: string;
  /** What is between the markers now. */
  readonly body: string;
  /** Line of the opening marker (1-based). */
  readonly line: number;
}

const OPEN = /<!--\s*tables:([A-Za-z0-9_-]+)\s*-->/g;

/** The blocks of `text`; throws on a block that is not closed or a table name nobody generates. */
export function findBlocks(text: string, file = 'text'): TableBlock[] {
  const blocks: TableBlock[] = [];
  for (const m of text.matchAll(OPEN)) {
    const name = m[1];
    const line = text.slice(0, m.index).split('\n').length;
    if (!(name in TABLES)) throw new Error(`${file}:${line}: unknown table '${name}' (known: ${Object.keys(TABLES).join(', ')}).`);
    const start = (m.index ?? 0) + m[0].length;
    const close = new RegExp(`<!--\\s*/tables:${name}\\s*-->`).exec(text.slice(start));
    if (close === null) throw new Error(`${file}:${line}: <!-- tables:${name} --> has no closing <!-- /tables:${name} -->.`);
    blocks.push({ name, body: text.slice(start, start + close.index), line });
  }
  return blocks;
}

/** `text` with every block's body replaced by its table (`tables` caches the generated tables by name). */
export function fillTables(text: string, tables: (name: string) => string, file = 'text'): string {
  findBlocks(text, file); // validates the markers
  return text.replace(/(<!--\s*tables:([A-Za-z0-9_-]+)\s*-->)([\s\S]*?)(<!--\s*\/tables:\2\s*-->)/g, (_all, open: string, name: string, _body: string, close: string) => `${open}\n${tables(name)}\n${close}`);
}

/** README.md and docs/**\/*.md (less the generated API reference), relative to the repo root. */
export function markdownFiles(root = ROOT): string[] {
  return ['README.md', ...globSync(['docs/**/*.md'], { cwd: root, ignore: ['docs/api/**'] }).sort()].filter((f) => fs.existsSync(path.join(root, f)));
}

/** Fills (or with `check`, compares) the blocks of every markdown file; returns the stale blocks as "file:line tables:NAME". */
export function updateTables(options: { check: boolean; root?: string; files?: readonly string[] } = { check: false }): { stale: string[]; blocks: number } {
  const root = options.root ?? ROOT;
  const cache = new Map<string, string>();
  const table = (name: string) => {
    if (!cache.has(name)) cache.set(name, TABLES[name]());
    return cache.get(name) as string;
  };
  const stale: string[] = [];
  let blocks = 0;
  for (const file of options.files ?? markdownFiles(root)) {
    const full = path.join(root, file);
    const text = fs.readFileSync(full, 'utf8');
    const found = findBlocks(text, file);
    if (found.length === 0) continue;
    blocks += found.length;
    for (const b of found) if (b.body !== `\n${table(b.name)}\n`) stale.push(`${file}:${b.line} tables:${b.name}`);
    if (!options.check) {
      const filled = fillTables(text, table, file);
      if (filled !== text) fs.writeFileSync(full, filled);
    }
  }
  return { stale, blocks };
}

function main(): void {
  const check = process.argv.includes('--check');
  const rootAt = process.argv.indexOf('--root');
  const root = rootAt >= 0 ? path.resolve(process.argv[rootAt + 1]) : ROOT;
  const { stale, blocks } = updateTables({ check, root });
  if (check) {
    if (stale.length > 0) {
      console.error(`docs tables out of date (run npm run docs:tables):\n${stale.map((s) => `  ${s}`).join('\n')}`);
      process.exit(1);
    }
    console.log(`docs tables: ${blocks} block(s) up to date`);
  } else {
    console.log(stale.length === 0 ? `docs tables: ${blocks} block(s) already up to date` : `docs tables: rewrote ${stale.join(', ')}`);
  }
}

if (require.main === module) main();
