/**
 * Layer groups: what composites match on. The type and the table of defaults live with the rules
 * (`rules/groups.ts`); re-exported here for the engine's importers.
 */
export type { LayerGroup, GroupDefault } from '../../rules/groups.js';
export { LINEAR_GROUPS, GROUP_DEFAULTS, LAYER_GROUPS } from '../../rules/groups.js';
