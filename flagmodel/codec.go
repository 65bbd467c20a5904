package flagmodel

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// MaxFileSize bounds the size of a flags file accepted by Parse.
const MaxFileSize = 64 << 20

// Format is a flags-file encoding.
type Format int

// Formats.
const (
	FormatYAML Format = iota
	FormatJSON
)

// DetectFormat guesses a document's format from its first non-blank byte:
// JSON documents start with '{'; everything else is read as YAML.
func DetectFormat(data []byte) Format {
	trimmed := bytes.TrimLeft(data, " \t\r\n\ufeff")
	if len(trimmed) > 0 && trimmed[0] == '{' {
		return FormatJSON
	}
	return FormatYAML
}

// Parse decodes a flags file in YAML or JSON. Decoding is strict: unknown
// fields, duplicate mapping keys and values of the wrong shape are errors
// that name the line. Parse does not validate semantics; call Validate.
// Equal strings of the file share one copy (see Interner).
func Parse(data []byte) (*File, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("file is %d bytes, above the limit of %d", len(data), MaxFileSize)
	}
	var f File
	var err error
	if DetectFormat(data) == FormatJSON {
		err = decodeJSON(data, &f)
	} else {
		err = decodeYAML(data, &f)
	}
	if err != nil {
		return nil, err
	}
	f.normalize()
	// A file of many flags repeats the same names and values thousands of
	// times; whoever keeps the model should keep each once.
	new(Interner).File(&f)
	return &f, nil
}

var yamlFieldNotFound = regexp.MustCompile(`field (\S+) not found in type flagmodel\.(\w+)`)
var yamlTypeName = regexp.MustCompile(`into flagmodel\.(\w+)`)

func decodeYAML(data []byte, f any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty document is an empty file
		}
		return fmt.Errorf("%s", cleanYAMLError(err))
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err == nil:
		return fmt.Errorf("line %d: file holds more than one YAML document; put everything in one", extra.Line)
	default:
		return fmt.Errorf("file holds more than one YAML document; put everything in one")
	}
	return nil
}

func cleanYAMLError(err error) string {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msg = strings.Join(te.Errors, "; ")
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	msg = yamlFieldNotFound.ReplaceAllStringFunc(msg, func(m string) string {
		sub := yamlFieldNotFound.FindStringSubmatch(m)
		return fmt.Sprintf("unknown field %q in %s", sub[1], describeType(sub[2]))
	})
	msg = yamlTypeName.ReplaceAllStringFunc(msg, func(m string) string {
		return "into " + describeType(yamlTypeName.FindStringSubmatch(m)[1])
	})
	return msg
}

func describeType(goName string) string {
	switch goName {
	case "FlagState":
		return "flag environment state"
	case "SegmentRule":
		return "segment rule"
	case "ValueType":
		return "value type"
	case "ExperimentMetrics":
		return "experiment metrics"
	case "CUPED":
		return "cuped settings"
	}
	return strings.ToLower(goName)
}

func decodeJSON(data []byte, f any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(f); err != nil {
		return jsonError(data, dec, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("unexpected data after the JSON document")
	}
	return nil
}

// jsonError adds a line and column to a JSON decoding error.
func jsonError(data []byte, dec *json.Decoder, err error) error {
	offset := dec.InputOffset()
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		// Offset counts the offending byte as read; point at it, not past it.
		offset = max(se.Offset-1, 0)
	case errors.As(err, &te):
		offset = te.Offset
		if te.Field != "" {
			err = fmt.Errorf("%s: cannot use a JSON %s here (want %s)", te.Field, te.Value, te.Type)
		}
	}
	line, col := lineCol(data, offset)
	msg := strings.TrimPrefix(err.Error(), "json: ")
	return fmt.Errorf("line %d, column %d: %s", line, col, msg)
}

func lineCol(data []byte, offset int64) (int, int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	line, col := 1, 1
	for _, b := range data[:offset] {
		if b == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

// normalize turns every number in clause values into float64, so YAML and
// JSON files produce identical models.
func (f *File) normalize() {
	norm := func(cs []Clause) {
		for i := range cs {
			for j := range cs[i].Values {
				cs[i].Values[j] = normalizeValue(cs[i].Values[j])
			}
		}
	}
	for i := range f.Segments {
		for j := range f.Segments[i].Rules {
			norm(f.Segments[i].Rules[j].When)
		}
	}
	for i := range f.Flags {
		for _, st := range f.Flags[i].Environments {
			if st == nil {
				continue
			}
			for j := range st.Rules {
				norm(st.Rules[j].When)
			}
		}
	}
}

// EncodeYAML writes f as a YAML flags file that Parse reads back unchanged.
func EncodeYAML(w io.Writer, f *File) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return fmt.Errorf("encode flags file: %w", err)
	}
	return enc.Close()
}

// EncodeJSON writes f as an indented JSON flags file that Parse reads back
// unchanged.
func EncodeJSON(w io.Writer, f *File) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(f); err != nil {
		return fmt.Errorf("encode flags file: %w", err)
	}
	return nil
}
