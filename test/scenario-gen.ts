// The random valid scenario generator lives in src/scenario/generate.ts (it is
// also used by `thpemu fuzz`); this module adds the fast-check arbitrary the
// property tests draw seeds from.
import fc from "fast-check";
import type { Seed } from "../src/scenario/generate.js";

export { buildScenario, WEIGHTS, SIZES, generateScenario, mulberry32, randomSeeds, runSeed } from "../src/scenario/generate.js";
export type { Seed, BuildOptions, GenerateOptions } from "../src/scenario/generate.js";

export const seedArb: fc.Arbitrary<Seed> = fc.record({
  kind: fc.nat(999), a: fc.nat(), b: fc.nat(), c: fc.nat(), d: fc.nat(), e: fc.nat(),
});
