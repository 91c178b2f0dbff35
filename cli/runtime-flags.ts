// The V8 flags every teearray process runs with. The scripts in package.json,
// the units in deploy/systemd and the Docker image's entrypoint spell them out
// too (test/cli/runtime-flags.test.ts keeps them in step); `teearray local`
// passes its own flags on to the nodes it starts, and the benchmarks start
// their nodes with these.
//
// --single-threaded-gc: V8's parallel and concurrent garbage collection runs
// helper threads next to the JavaScript thread. On the hosts a node or a
// small manager gets (a few cores, shared with other processes) they compete
// for those cores and cost more CPU than they save: on this project's 2-core
// machine the flag took 10-20 % off the manager's CPU per MiB and 40 % off a
// raw disk node's (docs/PERFORMANCE.md, "Garbage collection on few cores"). A
// manager with many cores of its own may drop it to keep collection off the
// request path.
export const runtimeFlags: readonly string[] = ['--single-threaded-gc'];
