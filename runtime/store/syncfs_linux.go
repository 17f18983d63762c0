package store

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncFS flushes every pending write of the file system holding dir,
// data and metadata, and waits for it: on Linux, syncfs(2) gives the
// guarantees of an fsync of every file on that file system (errors are
// reported since Linux 5.8).
func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = unix.Syncfs(int(f.Fd()))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// useSyncFS is whether SyncBlobs may use syncFS (tests turn it off).
var useSyncFS = true
