package observe

// allTable is the kern.proc sysctl that lists every process once.
const allTable = "kern.proc.all"
