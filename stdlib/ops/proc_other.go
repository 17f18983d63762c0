//go:build !unix

package ops

import "os/exec"

func setProcessGroup(cmd *exec.Cmd) {}
