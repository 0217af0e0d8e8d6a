package report

import (
	"fmt"
	"math"
)

// PredictionError is how far a prediction was from what happened, as a
// fraction of what happened: +0.25 predicted a quarter too long, -0.2
// a fifth too short. It is 0 when there is nothing to compare (no
// prediction, or nothing measured).
func PredictionError(predicted, actual float64) float64 {
	if predicted <= 0 || actual <= 0 {
		return 0
	}
	return predicted/actual - 1
}

// FormatError writes a PredictionError as a signed percentage: "+14.4%".
func FormatError(e float64) string {
	return fmt.Sprintf("%+.1f%%", 100*e)
}

// minCompared is the shortest task whose prediction the report judges:
// below it (restores, publishes) a few milliseconds are tens of percent,
// which says nothing about the plan.
const minCompared = 1.0

// predictions sets each finished task's Predicted and PredictionError and
// the run's PredictionError, from the plan and what the run measured.
func predictions(r *Run) {
	r.PredictionError = 0
	if !r.Interrupted {
		r.PredictionError = PredictionError(r.Predicted, r.Elapsed)
	}
	for _, t := range r.Tasks {
		t.Predicted, t.PredictionError = 0, 0
		if t.Status != KindBuilt {
			continue
		}
		// The plan's duration for it: on disk it counted the disk factor.
		t.Predicted = t.PlannedEnd - t.PlannedStart
		if t.Predicted <= 0 {
			t.Predicted = t.Estimate
		}
		if took := t.End - t.Start; t.Where != "cache" && t.Slot > 0 && math.Max(took, t.Predicted) >= minCompared {
			t.PredictionError = PredictionError(t.Predicted, took)
		}
	}
}
