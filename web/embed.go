// Package web holds the CODITECT web app (a React + TypeScript + Vite project in this
// directory) and exposes its build output, dist/, to the Go binary.
//
// `make web` (npm ci + vite build) fills dist/. Before the first build dist/ holds
// only a placeholder, so `go build` always works; the binary then serves a page that
// says how to build the UI.
package web

import (
	"embed"
	"io/fs"
)

//go:embed all:dist placeholder.html
var files embed.FS

// FS returns the web app's files: the built dist/ when it holds an index.html, else a
// file system whose only file, index.html, is the "build the UI first" placeholder.
func FS() fs.FS {
	dist, err := fs.Sub(files, "dist")
	if err == nil && Built(dist) {
		return dist
	}
	return placeholderFS{}
}

// Built reports whether fsys holds a built app (an index.html at its root).
func Built(fsys fs.FS) bool {
	_, err := fs.Stat(fsys, "index.html")
	return err == nil
}

// placeholderFS serves placeholder.html as index.html, and nothing else.
type placeholderFS struct{}

// Open opens index.html (the placeholder); every other name does not exist.
func (placeholderFS) Open(name string) (fs.File, error) {
	if name != "index.html" {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return files.Open("placeholder.html")
}
