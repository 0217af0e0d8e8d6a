// Package scheduler decides when, where and how each package build of a
// run starts, and runs them.
//
// The input is a DAG of tasks (one per package and architecture) with an
// estimate each: seconds on tmpfs and the peak size of the build tree. The
// policy is list scheduling by bottom level (the longest chain of
// estimated work from a task to the end of the DAG), under three limits:
// slots (concurrent builds, -j), a tmpfs RAM budget, and cores shared by
// the builds' make parallelism. A task whose tmpfs slice does not fit now
// either waits for RAM or builds on disk (slower by DiskFactor), whichever
// is predicted to finish first; a big slice that fits is placed where a
// simulation of the rest of the run predicts the earlier end (Lookahead).
//
// One policy, two drivers: Simulate runs it against a virtual clock (plans,
// benchmarks, tests: no I/O), Execute against the wall clock, starting a
// goroutine per admitted build and re-deciding on every finished build.
// Nothing polls: decisions are made when a build finishes, and, while a
// task waits for RAM, at the predicted end of the build it waits for.
//
// docs/scheduling.md describes the policy, the estimates and the
// benchmark on a real graph.
package scheduler
