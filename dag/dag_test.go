package dag

import (
	"math/rand"
	"reflect"
	"slices"
	"testing"
)

// graphOf makes a graph of n nodes from edges {v, w}: v needs w.
func graphOf(n int, edges [][2]int) Graph {
	g := Graph{Needs: make([][]int, n), Dependents: make([][]int, n)}
	for _, e := range edges {
		g.Needs[e[0]] = append(g.Needs[e[0]], e[1])
		g.Dependents[e[1]] = append(g.Dependents[e[1]], e[0])
	}
	return g
}

func byIndex(a, b int) bool { return a < b }

func TestTopoOrder(t *testing.T) {
	for _, tc := range []struct {
		name  string
		n     int
		edges [][2]int
		less  func(a, b int) bool
		order []int
		stuck []int
	}{
		{"empty", 0, nil, byIndex, []int{}, nil},
		{"independent, by index", 3, nil, byIndex, []int{0, 1, 2}, nil},
		{"independent, reversed", 3, nil, func(a, b int) bool { return a > b }, []int{2, 1, 0}, nil},
		// 0 needs 2, 1 needs 0: 2 first although 0 is smaller.
		{"chain", 3, [][2]int{{0, 2}, {1, 0}}, byIndex, []int{2, 0, 1}, nil},
		// diamond: 3 needs 1 and 2, both need 0.
		{"diamond", 4, [][2]int{{3, 1}, {3, 2}, {1, 0}, {2, 0}}, byIndex, []int{0, 1, 2, 3}, nil},
		// 1 and 2 need each other, 3 needs 1; 0 is free.
		{"cycle", 4, [][2]int{{1, 2}, {2, 1}, {3, 1}}, byIndex, []int{0}, []int{1, 2, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			order, stuck := graphOf(tc.n, tc.edges).TopoOrder(tc.less)
			if !reflect.DeepEqual(order, tc.order) || !reflect.DeepEqual(stuck, tc.stuck) {
				t.Errorf("order %v stuck %v, want %v %v", order, stuck, tc.order, tc.stuck)
			}
		})
	}
}

func TestBottomLevelsAndCriticalPath(t *testing.T) {
	// 0 <- 1 <- 3, 0 <- 2 <- 3, 4 alone (v <- w: w needs v).
	g := graphOf(5, [][2]int{{1, 0}, {2, 0}, {3, 1}, {3, 2}})
	cost := []float64{1, 5, 2, 1, 6}
	order, _ := g.TopoOrder(byIndex)
	bl := g.BottomLevels(order, func(v int) float64 { return cost[v] })
	if want := []float64{7, 6, 3, 1, 6}; !reflect.DeepEqual(bl, want) {
		t.Errorf("bottom levels %v, want %v", bl, want)
	}
	path, total := g.CriticalPath(order, bl)
	if !reflect.DeepEqual(path, []int{0, 1, 3}) || total != 7 {
		t.Errorf("critical path %v (%v), want [0 1 3] (7)", path, total)
	}
	// A tie between starts goes to the first of starts.
	tie := []float64{1, 6, 3, 1, 6}
	if path, _ := g.CriticalPath([]int{4, 1}, tie); !reflect.DeepEqual(path, []int{4}) {
		t.Errorf("tie: path %v, want [4]", path)
	}
	if path, total := g.CriticalPath(nil, bl); path != nil || total != 0 {
		t.Errorf("no starts: %v %v", path, total)
	}
	if got, want := g.Descendants(order), []int{3, 1, 1, 0, 0}; !reflect.DeepEqual(got, want) {
		t.Errorf("descendants %v, want %v", got, want)
	}
}

func TestHeap(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	prio := r.Perm(200)
	less := func(a, b int) bool { return prio[a] < prio[b] }
	h := NewHeap(less)
	for _, x := range r.Perm(200) {
		h.Push(x)
	}
	h.Remove(7)
	h.Remove(1000) // absent
	if n := h.Nodes(); len(n) != 199 || slices.Contains(n, 7) {
		t.Errorf("nodes %v", n)
	}
	c := h.Clone(less)
	var got []int
	for h.Len() > 0 {
		got = append(got, h.Pop())
	}
	want := make([]int, 0, 199)
	for x := range 200 {
		if x != 7 {
			want = append(want, x)
		}
	}
	slices.SortFunc(want, func(a, b int) int { return prio[a] - prio[b] })
	if !reflect.DeepEqual(got, want) {
		t.Errorf("pop order %v\nwant %v", got, want)
	}
	if c.Len() != 199 || c.Pop() != want[0] {
		t.Errorf("clone changed with the original")
	}
	if c.Reset(); c.Len() != 0 {
		t.Errorf("reset heap holds %v", c.Nodes())
	}
}
