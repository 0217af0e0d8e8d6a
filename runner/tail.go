package runner

// LogTail keeps the last Max bytes written to it: enough of a build log
// to see why the build failed (e.g. "No space left on device").
type LogTail struct {
	Max int
	buf []byte
}

// Write implements io.Writer; it never fails.
func (t *LogTail) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*t.Max {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-t.Max:]...)
	}
	return len(p), nil
}

// Bytes returns up to the last Max bytes.
func (t *LogTail) Bytes() []byte {
	if len(t.buf) > t.Max {
		return t.buf[len(t.buf)-t.Max:]
	}
	return t.buf
}
