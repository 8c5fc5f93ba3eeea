// Property tests explore new inputs on every developer run, but CI runs one fixed seed so a
// landing never depends on luck; FC_SEED reproduces any run (fast-check prints the seed of a failure).
import fc from 'fast-check';

const seed = process.env.FC_SEED ? Number(process.env.FC_SEED) : process.env.CI ? 20261125 : undefined;
if (seed !== undefined && Number.isFinite(seed)) fc.configureGlobal({ seed });
