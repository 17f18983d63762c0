package scaleouttest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

const (
	s3Access = "ouro-test-access"
	s3Secret = "ouro-test-secret-never-stored"
)

// versitygw finds the Versity S3 gateway binary: $OURO_VERSITYGW, PATH,
// or $(go env GOPATH)/bin. .ci/run installs it; without it the test is
// skipped, unless OURO_REQUIRE_S3 is set (as CI sets it).
func versitygw(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("OURO_VERSITYGW"); p != "" {
		return p
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "versitygw")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	msg := "no versitygw: go install github.com/versity/versitygw/cmd/versitygw@v1.8.0"
	if os.Getenv("OURO_REQUIRE_S3") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// startS3 serves a directory over S3 with versitygw and creates a bucket.
func startS3(t *testing.T, bucketName string) (endpoint, dir string) {
	t.Helper()
	bin := versitygw(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir = t.TempDir()
	cmd := exec.Command(bin, "--port", addr, "posix", dir)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s3Access, "ROOT_SECRET_KEY="+s3Secret)
	logPath := filepath.Join(t.TempDir(), "versitygw.log")
	logf, _ := os.Create(logPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	endpoint = "http://" + addr
	client := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s3Access, s3Secret, ""),
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucketName)})
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("versitygw on %s: creating bucket: %v\n%s", addr, err, b)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return endpoint, dir
}

func s3Env() []string {
	return []string{"AWS_ACCESS_KEY_ID=" + s3Access, "AWS_SECRET_ACCESS_KEY=" + s3Secret, "AWS_REGION=us-east-1"}
}

// TestExamplesSameAsLocalS3 is TestExamplesSameAsLocal with the blobs in
// a real S3-compatible server; the credentials reach no file of the store.
func TestExamplesSameAsLocalS3(t *testing.T) {
	needOuro(t)
	endpoint, dir := startS3(t, "ouro")
	url := fmt.Sprintf("s3://ouro/team/blobs?endpoint=%s&use_path_style=true", endpoint)
	c := newCluster(t, url, s3Env()...)
	c.startWorker("w1", "--slots", "2")
	c.startWorker("w2", "--slots", "2")
	checkExamples(t, c)

	// A fresh store takes finished stages' results from Temporal (their
	// workflows completed under the same ids) and the blobs from the bucket;
	// the credentials reach none of its files.
	ex := smallExamples[1]
	st := filepath.Join(t.TempDir(), "fresh")
	again := c.run(filepath.Join("..", "..", "..", "examples", ex.dir), st, ex.vars...)
	if again.Status != "ok" {
		t.Fatalf("fresh store: %s", again.Status)
	}
	filepath.Walk(st, func(path string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			if b, _ := os.ReadFile(path); strings.Contains(string(b), s3Secret) || strings.Contains(string(b), s3Access) {
				t.Errorf("%s holds the S3 credentials", path)
			}
		}
		return nil
	})

	// The blobs are in the bucket under the prefix, laid out as a store's.
	matches, _ := filepath.Glob(filepath.Join(dir, "ouro", "team", "blobs", "sha256", "*", "*"))
	if len(matches) == 0 {
		t.Error("no blob under s3://ouro/team/blobs/sha256/")
	}
	// No memo chunk is left once the stages have ended.
	if left, _ := filepath.Glob(filepath.Join(dir, "ouro", "team", "blobs", "memo", "*", "*")); len(left) > 0 {
		t.Errorf("memo chunks left in the bucket: %v", left)
	}
}

// TestBadBlobStore: a missing bucket stops a worker and a run at once,
// naming the store, before anything is stored.
func TestBadBlobStore(t *testing.T) {
	needOuro(t)
	endpoint, _ := startS3(t, "exists")
	c := newCluster(t, fmt.Sprintf("s3://missing?endpoint=%s&use_path_style=true", endpoint), s3Env()...)
	for _, args := range [][]string{
		append([]string{"worker"}, c.temporalArgs()...),
		append([]string{"run", "../../../examples/star", "--store", filepath.Join(t.TempDir(), "st"), "--executor", "temporal"}, c.temporalArgs()...),
	} {
		cmd := exec.Command(c.bin, args...)
		cmd.Env = append(os.Environ(), c.env...)
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("ouro %s succeeded with a missing bucket", args[0])
		}
		if !strings.Contains(string(out), "s3://missing") || !strings.Contains(string(out), "not writable") {
			t.Errorf("ouro %s: message does not name the store and the cause:\n%s", args[0], out)
		}
		if strings.Contains(string(out), s3Secret) {
			t.Errorf("ouro %s printed the secret key", args[0])
		}
	}
}
