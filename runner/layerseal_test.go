package runner

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A saved layer whose files are changed afterwards is refused and made
// again, with the reason in the build log; a copied layer (same content,
// new inodes) is accepted and re-sealed.
func TestTamperedLayerRefused(t *testing.T) {
	dir := t.TempDir()
	layers := filepath.Join(dir, "layers")
	key := "fedcba9876543210"
	b := &Build{Name: "p 1 amd64", Steps: []Step{
		NewStep("environment", "dh").Keep(key),
		NewStep("build", "make").WithTree(filepath.Join(dir, "tree"), "/build", 0),
	}}
	run := func() (*fakeRunner, *Outcome, string) {
		t.Helper()
		f := &fakeRunner{}
		var log bytes.Buffer
		oc, err := (&LocalExecutor{Runner: f, Base: "/base", LayerDir: layers}).Execute(context.Background(), b, t.TempDir(), &log)
		if err != nil {
			t.Fatal(err)
		}
		return f, oc, log.String()
	}
	forget := func() { // a new process: nothing checked yet
		checkedLayers.Lock()
		clear(checkedLayers.m)
		checkedLayers.Unlock()
	}
	run()
	layer := filepath.Join(layers, key)
	if _, err := os.Stat(layer + sealSuffix); err != nil {
		t.Fatalf("no seal: %v", err)
	}
	forget()
	if _, oc, _ := run(); !oc.Cached {
		t.Fatal("an intact layer was not reused")
	}

	// A modified tool, its mtime put back; then a planted setuid file.
	tool := filepath.Join(layer, "dh")
	fi, _ := os.Stat(tool)
	if err := os.WriteFile(tool, []byte("#!/bin/sh\nevil\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(tool, fi.ModTime(), fi.ModTime())
	forget()
	f, oc, log := run()
	if oc.Cached || len(f.specs) != 2 || !strings.Contains(log, "dh was changed after the layer was saved") {
		t.Fatalf("tampered layer used: cached %v, %d specs, log:\n%s", oc.Cached, len(f.specs), log)
	}
	if data, _ := os.ReadFile(tool); len(data) != 0 {
		t.Errorf("the remade layer still has the modified tool: %q", data)
	}
	if err := os.WriteFile(filepath.Join(layer, "planted"), []byte("x"), 0o4755); err != nil {
		t.Fatal(err)
	}
	forget()
	if f, oc, log := run(); oc.Cached || len(f.specs) != 2 || !strings.Contains(log, "planted was added") {
		t.Fatalf("layer with a planted file used: cached %v, log:\n%s", oc.Cached, log)
	}
	if _, err := os.Stat(filepath.Join(layer, "planted")); !os.IsNotExist(err) {
		t.Errorf("the remade layer still has the planted file: %v", err)
	}
	// Within one process a layer is checked once.
	if _, oc, _ := run(); !oc.Cached {
		t.Error("the remade layer was not reused")
	}

	// A copy of the cache: new inodes and change times, same content.
	moved := filepath.Join(dir, "copy")
	if out, err := exec.Command("cp", "-a", layers, moved).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	os.RemoveAll(layers)
	os.Rename(moved, layers)
	forget()
	if _, oc, log := run(); !oc.Cached {
		t.Errorf("copied layer refused:\n%s", log)
	}

	// A removed file is named too.
	os.Remove(filepath.Join(layer, "dh"))
	if err := checkSeal(layer, layer+sealSuffix); err == nil || !strings.Contains(err.Error(), "dh was removed") {
		t.Errorf("checkSeal: %v", err)
	}
}
