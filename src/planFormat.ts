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

/** Formats plan rows as a fixed-width text table. */
export function formatPlan(rows: readonly PlanRow[]): string {
  const header = ['layer', 'class', 'rule', 'why', 'notes'];
  const body = rows.map((r) => [r.layer, r.className, r.rule, r.reason, r.notes.join('; ')]);
  const widths = header.map((h, i) => Math.min(48, Math.max(h.length, ...body.map((b) => b[i].length))));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

