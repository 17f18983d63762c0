// Package opsbench holds the data operators' benchmarks (go test -bench .
// ./bench/ops/) and compare.sh, which compares filter+map against jq.
package opsbench
