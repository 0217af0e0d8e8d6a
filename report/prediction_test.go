package report

import (
	"math"
	"testing"
)

func TestPredictionError(t *testing.T) {
	for _, c := range []struct {
		predicted, actual float64
		want              string
	}{
		{2442, 888, "+175.0%"}, // issue 22: 40m42s predicted for 14m48s
		{100, 80, "+25.0%"},
		{60, 80, "-25.0%"},
		{80, 80, "+0.0%"},
		{0, 80, "+0.0%"}, // no prediction
		{80, 0, "+0.0%"}, // nothing measured
	} {
		if got := FormatError(PredictionError(c.predicted, c.actual)); got != c.want {
			t.Errorf("PredictionError(%v, %v) = %s, want %s", c.predicted, c.actual, got, c.want)
		}
	}
}

// The run and each build it made are compared with the plan; restores,
// publishes and builds that did not finish are not.
func TestPredictions(t *testing.T) {
	r := &Run{Elapsed: 80, Predicted: 100, Tasks: []*Task{
		{ID: "a", Status: KindBuilt, Slot: 1, Where: "tmpfs", Start: 0, End: 40, Estimate: 30, PlannedStart: 0, PlannedEnd: 30},
		{ID: "disk", Status: KindBuilt, Slot: 2, Where: "disk", Start: 0, End: 30, Estimate: 20, PlannedStart: 10, PlannedEnd: 34},
		{ID: "noplan", Status: KindBuilt, Slot: 1, Where: "tmpfs", Start: 40, End: 60, Estimate: 25},
		{ID: "cached", Status: KindBuilt, Slot: 1, Where: "cache", Start: 60, End: 60.5, Estimate: 0.002, PlannedEnd: 0.002},
		{ID: "publish", Status: KindBuilt, Start: 60, End: 60, Estimate: 1, PlannedStart: 50, PlannedEnd: 51},
		{ID: "failed", Status: KindFailed, Slot: 2, Where: "tmpfs", Start: 30, End: 35, Estimate: 10, PlannedEnd: 10},
	}}
	predictions(r)
	want := map[string][2]float64{ // predicted, error
		"a":       {30, -0.25},
		"disk":    {24, -0.2},
		"noplan":  {25, 0.25},
		"cached":  {0.002, 0},
		"publish": {1, 0},
		"failed":  {0, 0},
	}
	for _, tk := range r.Tasks {
		w := want[tk.ID]
		if math.Abs(tk.Predicted-w[0]) > 1e-9 || math.Abs(tk.PredictionError-w[1]) > 1e-9 {
			t.Errorf("%s: predicted %v, error %v; want %v", tk.ID, tk.Predicted, tk.PredictionError, w)
		}
	}
	if r.PredictionError != 0.25 {
		t.Errorf("run: error %v, want 0.25", r.PredictionError)
	}
	r.Interrupted = true
	if predictions(r); r.PredictionError != 0 {
		t.Errorf("interrupted run: error %v, want none", r.PredictionError)
	}
}
