package observe

// allTable is the kern.proc sysctl that lists every process once (not each
// thread, as kern.proc.all does).
const allTable = "kern.proc.proc"
