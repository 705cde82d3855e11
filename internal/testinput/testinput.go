// Package testinput gives tests the example inputs as decoded documents to
// edit by field path. An edit of a field the example lacks fails the test,
// so a changed example cannot silently make every edited input the same.
package testinput

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"testing"

	"github.com/proofmill/proofmill/examples"
)

// Doc is a decoded example input. Numbers keep their JSON spelling.
type Doc struct {
	t    testing.TB
	root any
}

// Example decodes examples/NAME.
func Example(t testing.TB, name string) *Doc {
	t.Helper()
	data, err := examples.Read(name)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		t.Fatalf("testinput: %s: %v", name, err)
	}
	return &Doc{t: t, root: root}
}

// Invoice is the example invoice with its invoice number raised by n: a
// distinct statement for each n.
func Invoice(t testing.TB, n int) string {
	t.Helper()
	d := Example(t, "invoice-consistency.json")
	return d.Set("invoice.number", d.Add("invoice.number", n)).JSON()
}

// Pool is the example pool with its first asset's salt raised by n: a
// distinct statement of the same shape for each n.
func Pool(t testing.TB, n int) string {
	t.Helper()
	d := Example(t, "abs-pool.json")
	return d.Set("assets[0].salt", d.Add("assets[0].salt", n)).JSON()
}

// Get returns the value at path (fields by name, array elements as [i]).
func (d *Doc) Get(path string) any {
	d.t.Helper()
	parent, key := d.locate(path)
	switch p := parent.(type) {
	case map[string]any:
		return p[key.(string)]
	case []any:
		return p[key.(int)]
	}
	panic("unreachable")
}

// Set replaces the value at path, which must exist.
func (d *Doc) Set(path string, v any) *Doc {
	d.t.Helper()
	parent, key := d.locate(path)
	switch p := parent.(type) {
	case map[string]any:
		p[key.(string)] = v
	case []any:
		p[key.(int)] = v
	}
	return d
}

// Delete removes the field at path, which must exist.
func (d *Doc) Delete(path string) *Doc {
	d.t.Helper()
	parent, key := d.locate(path)
	m, ok := parent.(map[string]any)
	if !ok {
		d.t.Fatalf("testinput: %s: not an object field", path)
	}
	delete(m, key.(string))
	return d
}

// Add returns the integer at path (a JSON number or a decimal string)
// plus n, spelled as it was.
func (d *Doc) Add(path string, n int) any {
	d.t.Helper()
	v := d.Get(path)
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case json.Number:
		s = x.String()
	default:
		d.t.Fatalf("testinput: %s is %T, not an integer", path, v)
	}
	i, ok := new(big.Int).SetString(s, 10)
	if !ok {
		d.t.Fatalf("testinput: %s = %q is not an integer", path, s)
	}
	sum := i.Add(i, big.NewInt(int64(n))).String()
	if _, isString := v.(string); isString {
		return sum
	}
	return json.Number(sum)
}

// JSON encodes the document.
func (d *Doc) JSON() string {
	d.t.Helper()
	data, err := json.MarshalIndent(d.root, "", "  ")
	if err != nil {
		d.t.Fatal(err)
	}
	return string(data)
}

// locate walks path to the container of its last step.
func (d *Doc) locate(path string) (parent any, key any) {
	d.t.Helper()
	steps := parse(d.t, path)
	cur := d.root
	for i, step := range steps {
		var next any
		switch c := cur.(type) {
		case map[string]any:
			name, ok := step.(string)
			if !ok {
				d.t.Fatalf("testinput: %s: step %d indexes an object", path, i)
			}
			v, exists := c[name]
			if !exists {
				d.t.Fatalf("testinput: %s: the example has no field %q (was the example changed?)", path, name)
			}
			next = v
		case []any:
			idx, ok := step.(int)
			if !ok || idx < 0 || idx >= len(c) {
				d.t.Fatalf("testinput: %s: step %d is not an index below %d", path, i, len(c))
			}
			next = c[idx]
		default:
			d.t.Fatalf("testinput: %s: step %d goes inside a %T", path, i, cur)
		}
		if i == len(steps)-1 {
			return cur, step
		}
		cur = next
	}
	d.t.Fatalf("testinput: empty path")
	return nil, nil
}

// parse splits "assets[3].salt" into "assets", 3, "salt".
func parse(t testing.TB, path string) []any {
	t.Helper()
	var steps []any
	for _, part := range strings.Split(path, ".") {
		name, rest, _ := strings.Cut(part, "[")
		if name != "" {
			steps = append(steps, name)
		}
		for rest != "" {
			num, after, ok := strings.Cut(rest, "]")
			i, err := strconv.Atoi(num)
			if !ok || err != nil {
				t.Fatalf("testinput: bad path %q", path)
			}
			steps = append(steps, i)
			rest = strings.TrimPrefix(after, "[")
		}
	}
	if len(steps) == 0 {
		t.Fatalf("testinput: bad path %q", path)
	}
	return steps
}

// String makes a Doc print as its JSON in failure messages.
func (d *Doc) String() string { return fmt.Sprint(d.JSON()) }
