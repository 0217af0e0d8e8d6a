package scheduler

// EmulationFactor is how much longer a build emulated under qemu-user is
// predicted to take than the same build natively or cross (measured:
// hello cross 57 s, emulated 590 s). Estimates that do not come from an
// emulated build of the package are multiplied by it.
const EmulationFactor = 10
