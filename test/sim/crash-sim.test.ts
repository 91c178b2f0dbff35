// Deterministic simulation of the whole array under manager crashes (at any
// frame, recovery included), node losses and restarts (up to m and beyond),
// memory corruption and a hostile network; see test/sim/README.md.
// SIM_RUNS sets the number of scenarios per file; a failure prints the
// fast-check seed and path that replay it:
//   SIM_SEED=<seed> SIM_PATH=<path> npx tap test/sim/crash-sim.test.ts
import { simulate } from './simulate.ts';

await simulate({ runs: Number(process.env.SIM_RUNS ?? 5000), seed: process.env.SIM_SEED ? Number(process.env.SIM_SEED) : 0x7ea1 });
