package runner

import "strings"

// ShellQuote quotes s for a POSIX shell; words of safe characters stay
// as they are, so scripts in logs read naturally.
func ShellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-._/=:,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ShellQuoteAll quotes every word of xs and joins them with spaces.
func ShellQuoteAll(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = ShellQuote(x)
	}
	return strings.Join(q, " ")
}
