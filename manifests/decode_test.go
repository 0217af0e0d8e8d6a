package manifests

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// sample exercises the decoder on types the current manifests do not use.
type sample struct {
	Name    string            `yaml:"name" required:"true"`
	Count   uint8             `yaml:"count"`
	Ratio   float64           `yaml:"ratio"`
	Timeout time.Duration     `yaml:"timeout"`
	Labels  map[string]string `yaml:"labels"`
	Items   []sampleItem      `yaml:"items"`
	Tree    *sampleTree       `yaml:"tree"`
	Skipped string            `yaml:"-"`
	Default string
}

type sampleItem struct {
	ID   int    `yaml:"id" required:"true"`
	Note string `yaml:"note"`
}

type sampleTree struct {
	Children []sampleTree `yaml:"children"`
}

func TestDecode(t *testing.T) {
	const in = `
name: &n sample
count: 200
ratio: 0.5
timeout: 1m30s
labels: {a: x, b: *n}
items:
  - id: 1
  - {id: 2, note: two}
default: set
`
	var got sample
	var errs Errors
	if _, ok := decodeFile([]byte(in), "sample.yaml", &got, &errs); !ok || len(errs) > 0 {
		t.Fatalf("decodeFile: ok=%v errors:\n%v", ok, errs)
	}
	want := sample{
		Name: "sample", Count: 200, Ratio: 0.5, Timeout: 90 * time.Second,
		Labels:  map[string]string{"a": "x", "b": "sample"},
		Items:   []sampleItem{{ID: 1}, {ID: 2, Note: "two"}},
		Default: "set",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decodeFile:\n got %+v\nwant %+v", got, want)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{{
		name: "types",
		in:   "name: x\ncount: 300\nratio: fast\ntimeout: soon\nlabels: [a]\nitems: {id: 1}\n",
		want: []string{
			`f.yaml:2:8: count: 300 is out of range`,
			`f.yaml:3:8: ratio: expected a number, got a string "fast"`,
			`f.yaml:4:10: timeout: invalid duration "soon" (use a duration such as 90s or 20m)`,
			`f.yaml:5:9: labels: expected a mapping, got a list`,
			`f.yaml:6:8: items: expected a list, got a mapping`,
		},
	}, {
		name: "nested paths",
		in:   "name: x\nitems:\n  - id: 1\n  - note: no id\n  - id: one\n  -\n",
		want: []string{
			`f.yaml:4:5: items[1].id: missing required field`,
			`f.yaml:5:9: items[2].id: expected an integer, got a string "one"`,
			`f.yaml:6:4: items[3]: list entries must not be empty`,
		},
	}, {
		name: "keys",
		in:   "name: x\n[a]: 1\n<<: {count: 1}\nlabels: {a: 1, a: 2}\nNAME: y\nskipped: z\n",
		want: []string{
			`f.yaml:2:1: field names must be strings, got a list`,
			`f.yaml:3:1: <<: merge keys are not supported`,
			`f.yaml:4:16: labels.a: duplicate field (first set on line 4)`,
			`f.yaml:5:1: NAME: unknown field; did you mean "name"?`,
			`f.yaml:6:1: skipped: unknown field`,
		},
	}, {
		name: "empty required",
		in:   "name: ''\n",
		want: []string{`f.yaml:1:7: name: must not be empty`},
	}, {
		name: "yes is a string",
		in:   "name: yes\n",
		want: []string{}, // YAML 1.2 has only true and false
	}, {
		name: "true is not a string",
		in:   "name: true\n",
		want: []string{`f.yaml:1:7: name: expected a string, got a boolean "true"`},
	}, {
		name: "self-referencing alias",
		in:   "name: x\ntree: &t {children: [*t]}\n",
		want: []string{`f.yaml:2:22: tree.children[0].children[0]` + strings.Repeat(".children[0]", 29) + `: nested too deeply`},
	}, {
		name: "syntax",
		in:   "name: x\nitems: [1, 2\n",
		want: []string{`f.yaml:1: invalid YAML: did not find expected ',' or ']'`},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v sample
			var errs Errors
			decodeFile([]byte(tt.in), "f.yaml", &v, &errs)
			errs.sort()
			got := []string{}
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// Aliases can repeat a subtree exponentially; the decoder must give up
// rather than walk it all.
func TestDecodeAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("name: x\nl0: &l0 {children: [{}, {}, {}, {}, {}, {}, {}, {}, {}, {}]}\n")
	for i := 1; i < 9; i++ {
		prev := "*l" + string(rune('0'+i-1))
		b.WriteString("l" + string(rune('0'+i)) + ": &l" + string(rune('0'+i)) + " {children: [" +
			strings.Repeat(prev+", ", 9) + prev + "]}\n")
	}
	b.WriteString("tree: *l8\n")
	var v sample
	var errs Errors
	decodeFile([]byte(b.String()), "f.yaml", &v, &errs)
	found := false
	for _, e := range errs {
		if strings.Contains(e.Msg, "too many values") {
			found = true
		}
	}
	if !found {
		t.Errorf("no 'too many values' error; got:\n%v", errs)
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  string
	}{
		{in: "1048576", want: 1 << 20},
		{in: "512MiB", want: 512 << 20},
		{in: "2GiB", want: 2 << 30},
		{in: "4G", want: 4 << 30},
		{in: "4GB", want: 4 << 30},
		{in: "1.5g", want: 3 << 29},
		{in: "2 GiB", want: 2 << 30},
		{in: "100K", want: 100 << 10},
		{in: "1TiB", want: 1 << 40},
		{in: "10B", want: 10},
		{in: "0", want: 0},
		{in: "", err: `invalid size "" (use a number with an optional unit, such as 512MiB or 2GiB)`},
		{in: "-1G", err: `invalid size "-1G" (use a number with an optional unit, such as 512MiB or 2GiB)`},
		{in: "lots", err: `invalid size "lots" (use a number with an optional unit, such as 512MiB or 2GiB)`},
		{in: "2PiB", err: `invalid size "2PiB": unknown unit "PiB" (use B, KiB, MiB, GiB or TiB)`},
		{in: "9999999999T", err: `invalid size "9999999999T": too large`},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("ParseSize(%q) = %d, %v; want error %s", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestSuggest(t *testing.T) {
	fields := []string{"name", "suite", "architectures", "cycle-breaks"}
	tests := []struct{ word, want string }{
		{"sute", "suite"},
		{"siute", "suite"},
		{"Name", "name"},
		{"cycle_breaks", "cycle-breaks"},
		{"arch", "architectures"},
		{"mirror", ""},
		{"na", ""},
	}
	for _, tt := range tests {
		if got := suggest(tt.word, fields); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.word, got, tt.want)
		}
	}
}
