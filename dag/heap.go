package dag

// Heap is a binary min-heap of nodes under a caller's order.
type Heap struct {
	xs   []int
	less func(a, b int) bool
}

// NewHeap returns an empty heap ordered by less.
func NewHeap(less func(a, b int) bool) *Heap { return &Heap{less: less} }

// Clone returns a copy of the heap ordered by less (which may be bound to
// another copy of the caller's state).
func (h *Heap) Clone(less func(a, b int) bool) *Heap {
	return &Heap{xs: append([]int(nil), h.xs...), less: less}
}

// Len is the number of nodes in the heap.
func (h *Heap) Len() int { return len(h.xs) }

// Push adds x.
func (h *Heap) Push(x int) {
	h.xs = append(h.xs, x)
	for i := len(h.xs) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(h.xs[i], h.xs[p]) {
			break
		}
		h.xs[i], h.xs[p] = h.xs[p], h.xs[i]
		i = p
	}
}

// Pop removes and returns the least node; the heap must not be empty.
func (h *Heap) Pop() int {
	x := h.xs[0]
	last := len(h.xs) - 1
	h.xs[0] = h.xs[last]
	h.xs = h.xs[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < last && h.less(h.xs[l], h.xs[m]) {
			m = l
		}
		if r < last && h.less(h.xs[r], h.xs[m]) {
			m = r
		}
		if m == i {
			break
		}
		h.xs[i], h.xs[m] = h.xs[m], h.xs[i]
		i = m
	}
	return x
}

// Remove takes x out of the heap, if there.
func (h *Heap) Remove(x int) {
	var keep []int
	for _, y := range h.xs {
		if y != x {
			keep = append(keep, y)
		}
	}
	h.xs = h.xs[:0]
	for _, y := range keep {
		h.Push(y)
	}
}

// Nodes returns a copy of the nodes in the heap, in no useful order.
func (h *Heap) Nodes() []int { return append([]int(nil), h.xs...) }

// Reset empties the heap.
func (h *Heap) Reset() { h.xs = nil }
