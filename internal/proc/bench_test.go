//go:build linux

package proc

import (
	"fmt"
	"testing"
)

// BenchmarkSpawn spawns /bin/true as the same service over and over and waits
// for each exit: the restart path.
func BenchmarkSpawn(b *testing.B) {
	for _, noCgroup := range []bool{false, true} {
		m := newManager(b, noCgroup)
		b.Run(string(m.Containment()), func(b *testing.B) {
			for b.Loop() {
				spawnTrue(b, m, "bench")
			}
		})
	}
}

// BenchmarkSpawnNewService spawns /bin/true as a new service each time, so in
// cgroup mode each op also creates a cgroup: the start-up path.
func BenchmarkSpawnNewService(b *testing.B) {
	for _, noCgroup := range []bool{false, true} {
		m := newManager(b, noCgroup)
		b.Run(string(m.Containment()), func(b *testing.B) {
			i := 0
			for b.Loop() {
				i++
				spawnTrue(b, m, fmt.Sprintf("bench-%d", i))
			}
		})
	}
}

func spawnTrue(b *testing.B, m *Manager, name string) {
	p, err := m.Spawn(Spec{Name: name, Args: []string{"/bin/true"}})
	if err != nil {
		b.Fatal(err)
	}
	p.Stdout().Close()
	p.Stderr().Close()
	<-p.Done()
	if exit := p.Exit(); exit.Code != 0 {
		b.Fatalf("exit %v", exit)
	}
}
