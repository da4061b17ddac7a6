/**
 * One model's part of `npm run eval`: models/eval.ts finds every `models/<id>/eval-section.ts`:
 * it prints its tables, adds its rows to the README summary and its figures to the JSON.
 */
export interface EvalOptions {
  smoke?: string[];
  falls?: string[];
  stairs?: string[];
  json?: string;
  readme?: boolean;
}

export interface EvalContext {
  opts: EvalOptions;
  /** Files of the user's were given (--smoke, --falls, --stairs): only the sections that read them run, on them. */
  custom: boolean;
  out: (s: string) => void;
  summary: (string | number)[][];
  figures: Record<string, unknown>;
}

export interface EvalSection {
  /** Position in the output and the README table. */
  order: number;
  /** Whether this section runs for these options. */
  runs(opts: EvalOptions, custom: boolean): boolean;
  run(ctx: EvalContext): Promise<void>;
}
