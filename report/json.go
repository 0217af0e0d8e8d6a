package report

import (
	"encoding/json"
	"io"
)

// JSON writes each event as one line of JSON, for CI.
func JSON(w io.Writer) Sink { return &jsonLines{enc: json.NewEncoder(w)} }

type jsonLines struct{ enc *json.Encoder }

func (j *jsonLines) Event(e Event) { _ = j.enc.Encode(e) }
