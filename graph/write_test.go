package graph_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stx-build/stx-build/graph"
)

// Write joins the graphs of several architectures in each format.
func TestWrite(t *testing.T) {
	var gs []*graph.Graph
	for _, arch := range []string{"amd64", "arm64"} {
		g, err := graph.Compile(diamond(t), graph.Options{Arch: arch})
		if err != nil {
			t.Fatal(err)
		}
		gs = append(gs, g)
	}
	write := func(format string, gs []*graph.Graph) string {
		t.Helper()
		var b bytes.Buffer
		if err := graph.Write(&b, format, gs); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		return b.String()
	}
	var one bytes.Buffer
	if err := graph.WriteText(&one, gs[0]); err != nil {
		t.Fatal(err)
	}
	if text := write("text", gs); !strings.HasPrefix(text, one.String()+"\n") || strings.Count(text, "build order:") != 2 {
		t.Errorf("text of two graphs:\n%s", text)
	}
	if dot := write("dot", gs); strings.Count(dot, "digraph") != 2 {
		t.Errorf("dot of two graphs:\n%s", dot)
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(write("json", gs[:1])), &obj); err != nil || obj["arch"] != "amd64" {
		t.Errorf("json of one graph: %v, %v", obj, err)
	}
	var arr []map[string]any
	if err := json.Unmarshal([]byte(write("json", gs)), &arr); err != nil || len(arr) != 2 {
		t.Errorf("json of two graphs: %v, %v", arr, err)
	}
	for _, f := range graph.Formats {
		write(f, gs)
	}
	if err := graph.Write(&bytes.Buffer{}, "yaml", gs); err == nil {
		t.Error("yaml written")
	}
}
