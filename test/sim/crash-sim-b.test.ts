// The same simulation from another seed, in its own file so the two halves
// run on both cores (see crash-sim.test.ts).
import { simulate } from './simulate.ts';

await simulate({ runs: Number(process.env.SIM_RUNS ?? 5000), seed: process.env.SIM_SEED ? Number(process.env.SIM_SEED) : 0xa77a });
