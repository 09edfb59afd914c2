/** DSPy modules a worker can run from a signature string, by their DSPy class names. */
export const ModuleName = {
  Predict: 'Predict',
  ChainOfThought: 'ChainOfThought',
  ReAct: 'ReAct',
  MultiChainComparison: 'MultiChainComparison',
  BestOfN: 'BestOfN',
  Refine: 'Refine',
} as const;
export type ModuleName = (typeof ModuleName)[keyof typeof ModuleName];

export const moduleNames: readonly string[] = Object.values(ModuleName);

export function isModuleName(value: string): value is ModuleName {
  return moduleNames.includes(value);
}
