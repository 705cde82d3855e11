// Package examples holds the example inputs of the registered circuits,
// embedded so that commands run anywhere can use them.
package examples

import (
	"embed"
	"fmt"
)

//go:embed *.json
var files embed.FS

// Read returns the example input named by a circuit's Example field.
func Read(name string) ([]byte, error) {
	data, err := files.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("examples: %w", err)
	}
	return data, nil
}
