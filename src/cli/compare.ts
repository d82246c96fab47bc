// `thpemu compare FILE`: the scenario under every mapcount scheme.
import { UserError } from "../machine.js";
import { ScenarioError } from "../scenario/parse.js";
import { compareSchemes, formatCompare } from "../scenario/compare.js";
import { Sink, readScenario, shorten, type CliIO } from "./io.js";
import { machineOptions, type KernelChoice } from "./target.js";
import { EXIT_OK, EXIT_SCENARIO, EXIT_HOST } from "./status.js";

/** `thpemu compare FILE`: the scenario under every mapcount scheme, observables and costs. */
export async function compareFile(file: string, opts: { kernel: KernelChoice; memory: number }, io: CliIO): Promise<number> {
  const input = await readScenario(file, io);
  if (!input) return EXIT_SCENARIO;
  const machine = await machineOptions(opts.kernel, io);
  if (!machine) return EXIT_HOST;
  try {
    const r = await compareSchemes(input.text, input.name, machine, opts.memory);
    const out = new Sink(io.stdout);
    await out.lines(formatCompare(r));
    await out.end();
    return r.runs.some((x) => x.observables === "error") ? EXIT_SCENARIO : EXIT_OK;
  } catch (e) {
    if (e instanceof ScenarioError || e instanceof UserError) { io.stderr.write(shorten(e.message) + "\n"); return EXIT_SCENARIO; }
    throw e;
  }
}
