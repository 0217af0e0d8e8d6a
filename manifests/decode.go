package manifests

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// The strict decoder below walks a yaml.v3 node tree alongside a Go value,
// driven by the `yaml:"name"` and `required:"true"` struct tags. Unlike
// yaml.Unmarshal it keeps going after a problem, so one run reports every
// unknown field, missing field and wrong type, and it remembers where each
// field sits so that later checks can name the line.

// maxDepth bounds nesting, which also stops self-referencing aliases, and
// maxNodes bounds the work aliases can cause ("billion laughs").
const (
	maxDepth = 64
	maxNodes = 100000
)

// position is a 1-based line and column in a manifest.
type position struct{ line, col int }

// document is one decoded manifest: its name in messages, where each field
// path sits, and the problem list shared by a whole load.
type document struct {
	file string
	pos  map[string]position
	// set holds the field paths that were present with a non-null value.
	set map[string]bool
	// bad holds the field paths already reported, so that later checks do
	// not pile a second message onto one mistake.
	bad  map[string]bool
	errs *Errors
}

// decodeFile strictly decodes data into out, which must point to a struct.
// file names the manifest in messages. It reports whether the file held a
// mapping that was decoded (possibly with problems); when it did not, out is
// untouched and later checks would only repeat the problem.
func decodeFile(data []byte, file string, out any, errs *Errors) (*document, bool) {
	d := &document{file: file, pos: map[string]position{}, set: map[string]bool{}, bad: map[string]bool{}, errs: errs}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			d.add(position{}, "", "file is empty")
		} else {
			d.syntax(err)
		}
		return d, false
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		d.syntax(err)
		return d, false
	default:
		d.add(position{next.Line, next.Column}, "", "only one YAML document is allowed")
	}
	n := resolve(&root)
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = resolve(n.Content[0])
	}
	d.pos[""] = position{n.Line, n.Column}
	if n.Kind != yaml.MappingNode {
		// Not the value: a file that is no manifest at all (a password
		// file linked as stx.yaml) parses as one long string.
		d.add(position{n.Line, n.Column}, "", "expected a mapping of fields, got "+describeKind(n))
		return d, false
	}
	v := reflect.ValueOf(out)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		panic(fmt.Sprintf("manifests: decodeFile needs a pointer to a struct, got %T", out))
	}
	dc := decoder{d: d}
	dc.value(n, v.Elem(), "")
	return d, true
}

// yamlLine finds the line number in yaml.v3 syntax errors.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// fieldLike is what a field name could look like, so that a message may
// repeat an unknown one.
var fieldLike = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,63}$`)

// yamlAnchor is an anchor name yaml.v3 quotes from the input.
var yamlAnchor = regexp.MustCompile(`anchor '[^']*'`)

// syntax records a YAML syntax error. yaml.v3 quotes input only in anchor
// names; those are left out, since a file that fails to parse may be no
// manifest at all, and its content must not reach the report.
func (d *document) syntax(err error) {
	msg := yamlAnchor.ReplaceAllString(err.Error(), "anchor")
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	// yaml.v3 leaves the line out for problems on the first line.
	line := 1
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	d.add(position{line, 0}, "", "invalid YAML: "+msg)
}

// given reports whether field was set to a value that decoded cleanly.
func (d *document) given(field string) bool {
	return d.set[field] && !d.bad[field]
}

// present reports whether field was written, even with no value.
func (d *document) present(field string) bool {
	_, ok := d.pos[field]
	return ok
}

// add records a problem at p.
func (d *document) add(p position, field, msg string) {
	d.bad[field] = true
	*d.errs = append(*d.errs, &Error{File: d.file, Line: p.line, Column: p.col, Field: field, Msg: msg})
}

// errorf records a problem with field, at the field's position or, when the
// field is absent, at its nearest present parent.
func (d *document) errorf(field, format string, args ...any) {
	d.add(d.at(field), field, fmt.Sprintf(format, args...))
}

// at returns where field sits, falling back to its parents.
func (d *document) at(field string) position {
	for {
		if p, ok := d.pos[field]; ok {
			return p
		}
		if field == "" {
			return position{}
		}
		field = parentPath(field)
	}
}

// parentPath strips the last ".name" or "[i]" from a field path.
func parentPath(field string) string {
	i := strings.LastIndexAny(field, ".[")
	if i < 0 {
		return ""
	}
	return field[:i]
}

func childPath(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

func indexPath(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}

type decoder struct {
	d     *document
	depth int
	nodes int
}

var durationType = reflect.TypeOf(time.Duration(0))

// value decodes n into v. Null leaves v at its zero value.
func (dc *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	dc.nodes++
	switch {
	case dc.nodes > maxNodes:
		if dc.nodes == maxNodes+1 {
			dc.d.add(position{n.Line, n.Column}, path, "too many values (check for aliases that repeat each other)")
		}
		return
	case dc.depth >= maxDepth:
		dc.d.add(position{n.Line, n.Column}, path, "nested too deeply")
		return
	}
	dc.depth++
	defer func() { dc.depth-- }()

	n = resolve(n)
	if isNull(n) {
		return
	}
	if v.Type() == durationType {
		dc.duration(n, v, path)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		dc.value(n, v.Elem(), path)
	case reflect.Struct:
		dc.structure(n, v, path)
	case reflect.Slice:
		dc.sequence(n, v, path)
	case reflect.Map:
		dc.mapping(n, v, path)
	case reflect.String:
		dc.str(n, v, path)
	case reflect.Bool:
		dc.boolean(n, v, path)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		dc.integer(n, v, path)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		dc.unsigned(n, v, path)
	case reflect.Float32, reflect.Float64:
		dc.float(n, v, path)
	default:
		panic(fmt.Sprintf("manifests: cannot decode into %s (field %q)", v.Type(), path))
	}
}

// structure decodes a mapping into a struct, field by field.
func (dc *decoder) structure(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		dc.wrongType(n, path, "a mapping")
		return
	}
	fields := structFields(v.Type())
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := resolve(n.Content[i]), n.Content[i+1]
		name, ok := dc.key(k, seen, path)
		if !ok {
			continue
		}
		fpath := childPath(path, name)
		f, known := fields.byName[name]
		if !known && name != "<<" && !fieldLike.MatchString(name) {
			// A line of a file that is no manifest (a password file
			// parses as a mapping of its lines): do not repeat it.
			dc.d.add(position{k.Line, k.Column}, path, "unknown field (its name is not shown: no field has such a name)")
			continue
		}
		if !known {
			msg := "unknown field"
			if name == "<<" {
				msg = "merge keys are not supported"
			} else if s := suggest(name, fields.names); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			dc.d.add(position{k.Line, k.Column}, fpath, msg)
			continue
		}
		dc.d.pos[fpath] = entryPos(k, val)
		if !isNull(resolve(val)) {
			dc.d.set[fpath] = true
		}
		dc.value(val, v.FieldByIndex(f.index), fpath)
	}
	for _, f := range fields.list {
		fpath := childPath(path, f.name)
		_, present := seen[f.name]
		switch {
		case !f.required || dc.d.bad[fpath]:
		case !present:
			dc.d.add(position{n.Line, n.Column}, fpath, "missing required field")
		case !dc.d.set[fpath] || isEmpty(v.FieldByIndex(f.index)):
			dc.d.errorf(fpath, "must not be empty")
		}
	}
}

// isEmpty reports whether a required field holds nothing: an empty string,
// list or mapping, or a nil pointer.
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.String, reflect.Slice, reflect.Map:
		return v.Len() == 0
	case reflect.Pointer, reflect.Interface:
		return v.IsNil()
	}
	return false
}

// key checks a mapping key: a string scalar that has not been seen before.
func (dc *decoder) key(k *yaml.Node, seen map[string]int, path string) (string, bool) {
	if k.Kind != yaml.ScalarNode || isNull(k) {
		dc.d.add(position{k.Line, k.Column}, path, "field names must be strings, got "+describe(k))
		return "", false
	}
	if len(k.Value) > MaxFieldLength {
		dc.d.add(position{k.Line, k.Column}, path, fmt.Sprintf("field name is too long (%d bytes; the limit is %d)", len(k.Value), MaxFieldLength))
		return "", false
	}
	if first, dup := seen[k.Value]; dup {
		field := childPath(path, k.Value)
		if !fieldLike.MatchString(k.Value) {
			field = path
		}
		dc.d.add(position{k.Line, k.Column}, field,
			fmt.Sprintf("duplicate field (first set on line %d)", first))
		return "", false
	}
	seen[k.Value] = k.Line
	return k.Value, true
}

// entryPos is where messages about a mapping entry point: at a scalar value
// itself, and at the key of a list or mapping (or of a missing value).
func entryPos(k, val *yaml.Node) position {
	if r := resolve(val); r.Kind == yaml.ScalarNode && !isNull(r) {
		return position{val.Line, val.Column}
	}
	return position{k.Line, k.Column}
}

func (dc *decoder) sequence(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		dc.wrongType(n, path, "a list")
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		ipath := indexPath(path, i)
		dc.d.pos[ipath] = position{item.Line, item.Column}
		if isNull(resolve(item)) {
			dc.d.errorf(ipath, "list entries must not be empty")
			continue
		}
		dc.d.set[ipath] = true
		dc.value(item, s.Index(i), ipath)
	}
	v.Set(s)
}

// mapping decodes a mapping with free-form string keys (a map[string]T).
func (dc *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if v.Type().Key().Kind() != reflect.String {
		panic(fmt.Sprintf("manifests: cannot decode into %s (field %q)", v.Type(), path))
	}
	if n.Kind != yaml.MappingNode {
		dc.wrongType(n, path, "a mapping")
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := resolve(n.Content[i]), n.Content[i+1]
		name, ok := dc.key(k, seen, path)
		if !ok {
			continue
		}
		kpath := childPath(path, name)
		dc.d.pos[kpath] = entryPos(k, val)
		elem := reflect.New(v.Type().Elem()).Elem()
		if !isNull(resolve(val)) {
			dc.d.set[kpath] = true
			dc.value(val, elem, kpath)
		}
		m.SetMapIndex(reflect.ValueOf(name).Convert(v.Type().Key()), elem)
	}
	v.Set(m)
}

func (dc *decoder) str(n *yaml.Node, v reflect.Value, path string) {
	// Numbers and dates are fine as strings (suite: 12, version: 1.0); a
	// boolean is not, since yes/no/true/false are rarely meant as text.
	switch n.ShortTag() {
	case "!!str", "!!int", "!!float", "!!timestamp":
		if n.Kind == yaml.ScalarNode && len(n.Value) > MaxFieldLength {
			dc.d.add(position{n.Line, n.Column}, path, fmt.Sprintf("too long (%d bytes; the limit is %d)", len(n.Value), MaxFieldLength))
			return
		}
		if n.Kind == yaml.ScalarNode {
			v.SetString(n.Value)
			return
		}
	}
	dc.wrongType(n, path, "a string")
}

func (dc *decoder) boolean(n *yaml.Node, v reflect.Value, path string) {
	var b bool
	if n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
		dc.wrongType(n, path, "true or false")
		return
	}
	v.SetBool(b)
}

func (dc *decoder) integer(n *yaml.Node, v reflect.Value, path string) {
	var i int64
	if n.ShortTag() != "!!int" || n.Decode(&i) != nil {
		dc.wrongType(n, path, "an integer")
		return
	}
	if v.OverflowInt(i) {
		dc.d.add(position{n.Line, n.Column}, path, fmt.Sprintf("%s is out of range", n.Value))
		return
	}
	v.SetInt(i)
}

func (dc *decoder) unsigned(n *yaml.Node, v reflect.Value, path string) {
	var i uint64
	if n.ShortTag() != "!!int" || n.Decode(&i) != nil {
		dc.wrongType(n, path, "a non-negative integer")
		return
	}
	if v.OverflowUint(i) {
		dc.d.add(position{n.Line, n.Column}, path, fmt.Sprintf("%s is out of range", n.Value))
		return
	}
	v.SetUint(i)
}

func (dc *decoder) float(n *yaml.Node, v reflect.Value, path string) {
	var f float64
	tag := n.ShortTag()
	if (tag != "!!float" && tag != "!!int") || n.Decode(&f) != nil {
		dc.wrongType(n, path, "a number")
		return
	}
	v.SetFloat(f)
}

func (dc *decoder) duration(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		dc.wrongType(n, path, "a duration such as 90s or 20m")
		return
	}
	d, err := time.ParseDuration(n.Value)
	if err != nil {
		dc.d.add(position{n.Line, n.Column}, path, fmt.Sprintf("invalid duration %q (use a duration such as 90s or 20m)", n.Value))
		return
	}
	v.SetInt(int64(d))
}

func (dc *decoder) wrongType(n *yaml.Node, path, want string) {
	dc.d.add(position{n.Line, n.Column}, path, "expected "+want+", got "+describe(n))
}

// describeKind names the kind of a node, without its value.
func describeKind(n *yaml.Node) string {
	if n = resolve(n); n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		return "a string"
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() != "!!null" {
		return "a scalar"
	}
	return describe(n)
}

// describe names what a node holds, for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	n = resolve(n)
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		what := map[string]string{
			"!!str":       "a string",
			"!!int":       "an integer",
			"!!float":     "a number",
			"!!bool":      "a boolean",
			"!!null":      "nothing",
			"!!timestamp": "a date",
		}[n.ShortTag()]
		if what == "" {
			what = "a value tagged " + n.ShortTag()
		}
		if n.ShortTag() == "!!null" {
			return what
		}
		return fmt.Sprintf("%s %s", what, quoteShort(n.Value))
	}
	return "an unexpected YAML node"
}

// quoteShort quotes s, cut short so that messages stay on one line.
func quoteShort(s string) string {
	const max = 40
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + "..."
	}
	return strconv.Quote(s)
}

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < maxDepth; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// fieldInfo describes one decodable struct field.
type fieldInfo struct {
	name     string
	index    []int
	required bool
}

type structInfo struct {
	list   []fieldInfo
	byName map[string]fieldInfo
	names  []string
}

var structCache sync.Map // reflect.Type -> *structInfo

// structFields lists the fields of t that manifests may set: exported fields
// not tagged `yaml:"-"`, named by their yaml tag (or lowercased Go name).
func structFields(t reflect.Type) *structInfo {
	if si, ok := structCache.Load(t); ok {
		return si.(*structInfo)
	}
	si := &structInfo{byName: map[string]fieldInfo{}}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(sf.Name)
		}
		f := fieldInfo{name: name, index: sf.Index, required: sf.Tag.Get("required") == "true"}
		si.list = append(si.list, f)
		si.byName[name] = f
		si.names = append(si.names, name)
	}
	structCache.Store(t, si)
	return si
}
