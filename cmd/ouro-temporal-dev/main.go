// Command ouro-temporal-dev starts a Temporal server in this process — the
// test server of go.temporal.io/server/temporaltest, in memory, nothing to
// install — and serves it on a fixed address, so `ouro worker` and
// `ouro run --executor temporal` can be tried on one machine:
//
//	go run ./cmd/ouro-temporal-dev                      # Temporal on 127.0.0.1:7233, namespace "default"
//	ouro worker --blobs file:///tmp/ouro-blobs          # in a second terminal (or several)
//	ouro run examples/star --executor temporal --blobs file:///tmp/ouro-blobs
//
// Everything it holds is lost when it stops. It is a separate program, not
// an ouro subcommand, so the ouro binary does not carry a Temporal server.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/ouroloop/ouro/cmd/internal/devserver"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:7233", "address to serve Temporal's frontend on")
	namespace := flag.String("namespace", "default", "namespace to create")
	flag.Parse()
	if err := run(*listen, *namespace); err != nil {
		fmt.Fprintf(os.Stderr, "ouro-temporal-dev: %v\n", err)
		os.Exit(1)
	}
}

func run(listen, namespace string) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	ts := devserver.New()
	defer ts.Stop()
	backend := ts.GetFrontendHostPort()
	if err := createNamespace(backend, namespace); err != nil {
		return err
	}
	go proxy(ln, backend)
	fmt.Printf("Temporal dev server on %s, namespace %q (in memory; Ctrl-C stops it)\n", ln.Addr(), namespace)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	ln.Close()
	return nil
}

// createNamespace registers the namespace and waits until it serves.
func createNamespace(hostPort, namespace string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nc, err := client.NewNamespaceClient(client.Options{HostPort: hostPort})
	if err != nil {
		return err
	}
	defer nc.Close()
	err = nc.Register(ctx, &workflowservice.RegisterNamespaceRequest{Namespace: namespace, WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour)})
	var exists *serviceerror.NamespaceAlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("registering namespace %s: %w", namespace, err)
	}
	c, err := client.DialContext(ctx, client.Options{HostPort: hostPort, Namespace: namespace})
	if err != nil {
		return err
	}
	defer c.Close()
	for {
		_, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: namespace})
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("namespace %s did not become ready: %w", namespace, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// proxy forwards every connection on ln to the in-process frontend.
func proxy(ln net.Listener, backend string) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer conn.Close()
			up, err := net.Dial("tcp", backend)
			if err != nil {
				return
			}
			defer up.Close()
			var wg sync.WaitGroup
			wg.Add(2)
			pipe := func(dst, src net.Conn) {
				defer wg.Done()
				io.Copy(dst, src)
				if tc, ok := dst.(*net.TCPConn); ok {
					tc.CloseWrite()
				}
			}
			go pipe(up, conn)
			go pipe(conn, up)
			wg.Wait()
		}()
	}
}
