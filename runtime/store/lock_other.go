//go:build !unix

package store

import (
	"errors"
	"os"
)

func tryLock(f *os.File) error { return errors.New("store locking is not supported on this platform") }

func unlock(f *os.File) error { return nil }
