/** Plans as rows and text: what `describe()` returns and the CLI prints. */
import { ruleLabel } from '../rules/types.js';
import { groupOf, type ModelPlan } from './plan.js';

/** One row of a plan description. */
export interface PlanRow {
  readonly layer: string;
  readonly className: string;
  readonly group: string;
  /** The rule with its parameters, e.g. `epsilon(epsilon=0.000001)`. */
  readonly rule: string;
  /** Why this rule was chosen. */
  readonly reason: string;
  /** What canonization did (split activation, merged BatchNorm, …). */
  readonly notes: string[];
}

/** The plan for `model` under `options`: one row per node with its rule and why. */
export function describePlan(plan: ModelPlan): PlanRow[] {
  const rows: PlanRow[] = plan.nodes.map((p) => ({
    layer: p.node.name,
    className: p.node.className,
    group: groupOf(p.node),
    rule: ruleLabel(p.rule),
    reason: p.reason,
    notes: [
      ...p.node.notes,
      ...(p.node.adapter.note !== undefined && p.node.op.kind === 'layer' ? [p.node.adapter.note] : []),
      ...(p.node.adapter.innerLinear !== undefined && p.node.op.kind === 'layer' ? [p.node.adapter.innerLinear.describe(p.node.layer)] : []),
    ],
  }));
  const stripped = plan.graph.stripped;
  if (stripped !== null) {
    rows.push({ layer: stripped.node, className: stripped.className, group: 'activation', rule: '(stripped)', reason: `final ${stripped.activation}`, notes: [`the pre-${stripped.activation} score is explained`] });
  }
  return rows;
}

/**
 * The longest `a/b/` scope that every name starts with (and is longer than); '' when there is
 * none. Graph models name their ops by scope (`StatefulPartitionedCall/model_1/conv2d_1/Conv2D`).
 */
export function commonScope(names: readonly string[]): string {
  if (names.length < 2) return '';
  let prefix = names[0].slice(0, names[0].lastIndexOf('/') + 1);
  for (const n of names) {
    while (prefix !== '' && !(n.startsWith(prefix) && n.length > prefix.length)) prefix = prefix.slice(0, prefix.slice(0, -1).lastIndexOf('/') + 1);
  }
  return prefix;
}

/**
 * Formats plan rows as a fixed-width text table. A scope every layer name shares (graph models)
 * is said once above the table and left out of the rows; a note that repeats the row's reason is
 * not printed twice.
 */
export function formatPlan(rows: readonly PlanRow[]): string {
  const scope = commonScope(rows.map((r) => r.layer));
  const header = ['layer', 'class', 'rule', 'why', 'notes'];
  const body = rows.map((r) => [r.layer.slice(scope.length), r.className, r.rule, r.reason, r.notes.filter((n) => n !== r.reason).join('; ')]);
  const widths = header.map((h, i) => Math.min(i === 0 ? 64 : 48, Math.max(h.length, ...body.map((b) => b[i].length))));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  const table = [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
  return scope === '' ? table : `(every layer name below starts with '${scope}')\n${table}`;
}
