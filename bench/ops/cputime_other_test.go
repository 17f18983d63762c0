//go:build !unix

package opsbench_test

import "time"

// cpuTime is not measured here: 0 (report then leaves records/cpu-s out).
func cpuTime() time.Duration { return 0 }
