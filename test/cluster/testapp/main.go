// testapp is the one small static program behind the local cluster's images: the pause (sandbox)
// image and the test image the node tests run. It has no dependencies so it builds in seconds.
//
//	testapp pause              sleep until SIGTERM/SIGINT (the pod sandbox)
//	testapp serve [ADDR]       HTTP server answering "<hostname>\n" (default :8080)
//	testapp get URL...         GET each URL, trying again for 30 s while it fails; exit 1 on the first that still fails
//	testapp kube PATH...       GET each API path with the pod's ServiceAccount token; prints "PATH STATUS"
//	testapp alloc MIB          allocate and touch MIB mebibytes, then sleep
//	testapp cat FILE           print a file (say /proc/net/route)
//
// Results are printed and also written to /dev/termination-log, so a test can read them from the
// pod's status without reaching the kubelet.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: testapp pause|serve|get|kube|alloc|cat ...")
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "pause":
		pause()
	case "serve":
		addr := ":8080"
		if len(args) > 0 {
			addr = args[0]
		}
		serve(addr)
	case "get":
		get(args)
	case "kube":
		kube(args)
	case "alloc":
		alloc(args)
	case "cat":
		if len(args) != 1 {
			fail("usage: testapp cat FILE")
		}
		text, err := os.ReadFile(args[0])
		if err != nil {
			fail(err.Error())
		}
		report(strings.Split(strings.TrimSpace(string(text)), "\n"))
	default:
		fail("unknown command " + os.Args[1])
	}
}

func pause() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}

func serve(addr string) {
	host, _ := os.Hostname()
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, host)
	})
	srv := &http.Server{Addr: addr, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
		<-stop
		srv.Close()
	}()
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		fail(err.Error())
	}
}

// report prints the lines and keeps them as the termination message.
func report(lines []string) {
	text := strings.Join(lines, "\n") + "\n"
	fmt.Print(text)
	_ = os.WriteFile("/dev/termination-log", []byte(text), 0o644)
}

func fail(msg string) {
	report([]string{"error: " + msg})
	os.Exit(1)
}

func get(urls []string) {
	client := &http.Client{Timeout: 10 * time.Second}
	var lines []string
	for _, url := range urls {
		body, err := fetchRetrying(client, url)
		if err != nil {
			lines = append(lines, url+" error: "+err.Error())
			report(lines)
			os.Exit(1)
		}
		lines = append(lines, url+" "+strings.TrimSpace(body))
	}
	report(lines)
}

// fetchRetrying tries again while a request fails: a new Service's rules reach the node's kube-proxy
// some time after its endpoints are ready, and until then the node answers that the Service's address is
// unreachable, as any client of a new Service may find.
func fetchRetrying(client *http.Client, url string) (string, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		body, err := fetch(client, url, "")
		if err == nil || time.Now().After(deadline) {
			return body, err
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func fetch(client *http.Client, url, token string) (string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if token != "" {
		return strconv.Itoa(res.StatusCode), nil
	}
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d", res.StatusCode)
	}
	return string(body), nil
}

// kube calls the API server the way in-cluster clients do: the kubernetes Service from the
// environment, the mounted CA and token.
func kube(paths []string) {
	const sa = "/var/run/secrets/kubernetes.io/serviceaccount/"
	token, err := os.ReadFile(sa + "token")
	if err != nil {
		fail(err.Error())
	}
	ca, err := os.ReadFile(sa + "ca.crt")
	if err != nil {
		fail(err.Error())
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
	base := "https://" + net.JoinHostPort(os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT"))
	var lines []string
	for _, path := range paths {
		status, err := fetch(client, base+path, strings.TrimSpace(string(token)))
		if err != nil {
			status = "error: " + err.Error()
		}
		lines = append(lines, path+" "+status)
	}
	report(lines)
}

func alloc(args []string) {
	if len(args) != 1 {
		fail("usage: testapp alloc MIB")
	}
	mib, err := strconv.Atoi(args[0])
	if err != nil {
		fail(err.Error())
	}
	var chunks [][]byte
	for i := 0; i < mib; i++ {
		chunk := make([]byte, 1<<20)
		for j := range chunk {
			chunk[j] = byte(j)
		}
		chunks = append(chunks, chunk)
	}
	fmt.Printf("allocated %d MiB\n", len(chunks))
	pause()
}
