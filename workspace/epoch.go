package workspace

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// EpochEnv is the environment variable that fixes every timestamp of a
// build (reproducible-builds.org's SOURCE_DATE_EPOCH).
const EpochEnv = "SOURCE_DATE_EPOCH"

// sourceDateEpoch is SOURCE_DATE_EPOCH as Open read it.
type sourceDateEpoch struct {
	set bool
	t   time.Time
	err error
}

// readEpoch parses SOURCE_DATE_EPOCH from the environment: a whole,
// non-negative number of seconds since 1970.
func readEpoch() sourceDateEpoch {
	s, ok := os.LookupEnv(EpochEnv)
	if !ok || s == "" {
		return sourceDateEpoch{}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return sourceDateEpoch{err: fmt.Errorf("%s=%q: want seconds since 1970", EpochEnv, s)}
	}
	return sourceDateEpoch{set: true, t: time.Unix(n, 0).UTC()}
}

// SourceDateEpoch is SOURCE_DATE_EPOCH as it was when the workspace was
// opened (Options.SourceDateEpoch when set): ok is false when it is unset,
// and builders then derive the epoch from the changelogs of the packages
// they use. A malformed value is an error here, not when opening, so
// commands that stamp nothing are not refused.
func (w *Workspace) SourceDateEpoch() (t time.Time, ok bool, err error) {
	e := w.epoch
	return e.t, e.set, e.err
}
