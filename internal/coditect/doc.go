// Package coditect is the platform's vocabulary: typed identifiers, the Actor on whose
// behalf code runs, roles, and the one Error type every layer speaks. It imports only the
// standard library so every other package can depend on it.
package coditect
