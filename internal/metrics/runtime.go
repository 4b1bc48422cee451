package metrics

import (
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"time"
)

// The supervisor's own figures, under the names Prometheus client libraries
// give them (go_*, process_*), so that dashboards made for any Go program
// read them.

var (
	famGoroutines = family{"go_goroutines", "Number of goroutines that currently exist.", gauge}
	famThreads    = family{"go_threads", "Number of OS threads created.", gauge}
	famGoInfo     = family{"go_info", "Information about the Go environment.", gauge}
	famGC         = family{"go_gc_duration_seconds", "A summary of the pause duration of garbage collection cycles.", summary}

	famAlloc        = family{"go_memstats_alloc_bytes", "Number of bytes allocated and still in use.", gauge}
	famAllocTotal   = family{"go_memstats_alloc_bytes_total", "Total number of bytes allocated, even if freed.", counter}
	famSys          = family{"go_memstats_sys_bytes", "Number of bytes obtained from system.", gauge}
	famMallocs      = family{"go_memstats_mallocs_total", "Total number of mallocs.", counter}
	famFrees        = family{"go_memstats_frees_total", "Total number of frees.", counter}
	famHeapAlloc    = family{"go_memstats_heap_alloc_bytes", "Number of heap bytes allocated and still in use.", gauge}
	famHeapSys      = family{"go_memstats_heap_sys_bytes", "Number of heap bytes obtained from system.", gauge}
	famHeapIdle     = family{"go_memstats_heap_idle_bytes", "Number of heap bytes waiting to be used.", gauge}
	famHeapInuse    = family{"go_memstats_heap_inuse_bytes", "Number of heap bytes that are in use.", gauge}
	famHeapReleased = family{"go_memstats_heap_released_bytes", "Number of heap bytes released to OS.", gauge}
	famHeapObjects  = family{"go_memstats_heap_objects", "Number of allocated objects.", gauge}
	famStackInuse   = family{"go_memstats_stack_inuse_bytes", "Number of bytes in use by the stack allocator.", gauge}
	famStackSys     = family{"go_memstats_stack_sys_bytes", "Number of bytes obtained from system for stack allocator.", gauge}
	famNextGC       = family{"go_memstats_next_gc_bytes", "Number of heap bytes when next garbage collection will take place.", gauge}
	famLastGC       = family{"go_memstats_last_gc_time_seconds", "Number of seconds since 1970 of last garbage collection.", gauge}

	famProcCPU   = family{"process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", counter}
	famProcStart = family{"process_start_time_seconds", "Start time of the process since unix epoch in seconds.", gauge}
	famMaxFDs    = family{"process_max_fds", "Maximum number of open file descriptors.", gauge}
	famOpenFDs   = family{"process_open_fds", "Number of open file descriptors.", gauge}
	famRSS       = family{"process_resident_memory_bytes", "Resident memory size in bytes.", gauge}
	famVSize     = family{"process_virtual_memory_bytes", "Virtual memory size in bytes.", gauge}
)

// started stands for the process's start: this package is initialised
// within milliseconds of it.
var started = time.Now()

// collectRuntime adds the Go runtime's and the process's figures.
func collectRuntime(e *exposition) {
	e.add(famGoroutines, float64(runtime.NumGoroutine()))
	e.add(famThreads, float64(pprof.Lookup("threadcreate").Count()))
	e.add(famGoInfo, 1, "version", runtime.Version())

	var gc debug.GCStats
	gc.PauseQuantiles = make([]time.Duration, 5)
	debug.ReadGCStats(&gc)
	for i, q := range []string{"0", "0.25", "0.5", "0.75", "1"} {
		e.add(famGC, gc.PauseQuantiles[i].Seconds(), "quantile", q)
	}
	e.addSuffixed(famGC, "_sum", gc.PauseTotal.Seconds())
	e.addSuffixed(famGC, "_count", float64(gc.NumGC))

	// A scrape is rare: the short stop of the world ReadMemStats takes is
	// worth its full figures.
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	for _, f := range []struct {
		fam family
		v   uint64
	}{
		{famAlloc, m.Alloc}, {famAllocTotal, m.TotalAlloc}, {famSys, m.Sys}, {famMallocs, m.Mallocs},
		{famFrees, m.Frees}, {famHeapAlloc, m.HeapAlloc}, {famHeapSys, m.HeapSys}, {famHeapIdle, m.HeapIdle},
		{famHeapInuse, m.HeapInuse}, {famHeapReleased, m.HeapReleased}, {famHeapObjects, m.HeapObjects},
		{famStackInuse, m.StackInuse}, {famStackSys, m.StackSys}, {famNextGC, m.NextGC},
	} {
		e.add(f.fam, float64(f.v))
	}
	e.add(famLastGC, float64(m.LastGC)/1e9)

	e.add(famProcStart, float64(started.UnixNano())/1e9)
	collectProcess(e)
}
