package protocol

import (
	"errors"
	"math"
	"strconv"
	"testing"
)

func TestParseInt(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"1", 1, true},
		{"-1", -1, true},
		{"99", 99, true},
		{"-99", -99, true},
		{"9223372036854775807", math.MaxInt64, true},
		{"-9223372036854775808", math.MinInt64, true},
		{"9223372036854775808", 0, false},
		{"-9223372036854775809", 0, false},
		{"18446744073709551616", 0, false},
		{"99999999999999999999999", 0, false},
		{"", 0, false},
		{"-", 0, false},
		{"+1", 0, false},
		{" 1", 0, false},
		{"1 ", 0, false},
		{"01", 0, false},
		{"-0", 0, false},
		{"00", 0, false},
		{"1a", 0, false},
		{"1.0", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseInt([]byte(tt.in))
		if ok != tt.ok || got != tt.want {
			t.Errorf("ParseInt(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseUint(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true},
		{"18446744073709551615", math.MaxUint64, true},
		{"18446744073709551616", 0, false},
		{"-1", 0, false},
		{"+1", 0, false},
		{"01", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseUint([]byte(tt.in))
		if ok != tt.ok || got != tt.want {
			t.Errorf("ParseUint(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseScanCursor(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"", 0, true},
		{"0", 0, true},
		{"007", 7, true},
		{"+5", 5, true},
		{"-1", math.MaxUint64, true},
		{"18446744073709551615", math.MaxUint64, true},
		{"18446744073709551616", 0, false},
		{"12\x00zz", 12, true},
		{" 1", 0, false},
		{"1 ", 0, false},
		{"-", 0, false},
		{"a", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseScanCursor([]byte(tt.in))
		if ok != tt.ok || got != tt.want {
			t.Errorf("ParseScanCursor(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseFloat(t *testing.T) {
	inf := math.Inf(1)
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"1.5", 1.5, true},
		{"-1.5", -1.5, true},
		{"+1.5", 1.5, true},
		{".5", 0.5, true},
		{"5.", 5, true},
		{"007", 7, true},
		{"1e3", 1000, true},
		{"1E+3", 1000, true},
		{"2.5e-1", 0.25, true},
		{"inf", inf, true},
		{"+inf", inf, true},
		{"-inf", -inf, true},
		{"Infinity", inf, true},
		{"-INF", -inf, true},
		{"0x10", 16, true},
		{"0x1p4", 16, true},
		{"0X1.8P1", 3, true},
		{"-0x.8", -0.5, true},
		{"4e-320", 4e-320, true},
		{"0e500", 0, true},
		{"1e", 0, false},
		{"1e+", 0, false},
		{"e1", 0, false},
		{".", 0, false},
		{"nan", 0, false},
		{"NaN", 0, false},
		{"-nan", 0, false},
		{"nan(1)", 0, false},
		{"", 0, false},
		{"-", 0, false},
		{" 1", 0, false},
		{"1 ", 0, false},
		{"1\x00", 0, false},
		{"0x", 0, false},
		{"0x1p", 0, false},
		{"0xg", 0, false},
		{"1e400", 0, false},
		{"-1e400", 0, false},
		{"1e-400", 0, false},
		{"1_000", 0, false},
		{"0x_1p0", 0, false},
		{"--1", 0, false},
		{"1.2.3", 0, false},
		{"infx", 0, false},
		{"in", 0, false},
		{"1f", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseFloat([]byte(tt.in))
		if ok != tt.ok || got != tt.want {
			t.Errorf("ParseFloat(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestAppendFloat(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{1.5, "1.5"},
		{0.1, "0.10000000000000001"},
		{3, "3"},
		{0, "0"},
		{math.Copysign(0, -1), "-0"},
		{1e16, "10000000000000000"},
		{1e17, "1e+17"},
		{1e21, "1e+21"},
		{123456789012345678, "1.2345678901234568e+17"},
		{1e-5, "1.0000000000000001e-05"},
		{0.0001, "0.0001"},
		{math.Inf(1), "inf"},
		{math.Inf(-1), "-inf"},
		{math.NaN(), "nan"},
	}
	for _, tt := range tests {
		if got := string(AppendFloat(nil, tt.in)); got != tt.want {
			t.Errorf("AppendFloat(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseMemory(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1024", 1024, true},
		{"0", 0, true},
		{"1b", 1, true},
		{"1k", 1000, true},
		{"1kb", 1024, true},
		{"1K", 1000, true},
		{"1KB", 1024, true},
		{"1m", 1000000, true},
		{"1mb", 1048576, true},
		{"100mb", 104857600, true},
		{"1g", 1000000000, true},
		{"1gb", 1073741824, true},
		{"1Gb", 1073741824, true},
		{"5k", 5000, true},
		{"-1", -1, true},
		{"", 0, false},
		{"k", 0, false},
		{"-", 0, false},
		{"1tb", 0, false},
		{"1 mb", 0, false},
		{" 1", 0, false},
		{"1.5mb", 0, false},
		{"+1", 0, false},
		{"9223372036854775807", math.MaxInt64, true},
		{"9223372036854775808", 0, false},
		{"9223372036854775807kb", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseMemory(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseMemory(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrMemoryValue) {
			t.Errorf("ParseMemory(%q) error %v does not wrap ErrMemoryValue", tt.in, err)
		}
		if err != nil && !containsQuoted(err.Error(), tt.in) {
			t.Errorf("ParseMemory(%q) error %q does not name the value", tt.in, err)
		}
	}
}

func containsQuoted(s, v string) bool {
	q := strconv.Quote(v)
	for i := 0; i+len(q) <= len(s); i++ {
		if s[i:i+len(q)] == q {
			return true
		}
	}
	return false
}

func FuzzParseInt(f *testing.F) {
	for _, s := range []string{"0", "-1", "9223372036854775807", "-9223372036854775808", "01", "+1", "", " 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, ok := ParseInt([]byte(s))
		sv, err := strconv.ParseInt(s, 10, 64)
		canonical := err == nil && strconv.FormatInt(sv, 10) == s
		if ok != canonical {
			t.Fatalf("ParseInt(%q) ok=%v, strconv canonical=%v", s, ok, canonical)
		}
		if ok && v != sv {
			t.Fatalf("ParseInt(%q) = %d, strconv %d", s, v, sv)
		}
		u, uok := ParseUint([]byte(s))
		su, uerr := strconv.ParseUint(s, 10, 64)
		ucanon := uerr == nil && strconv.FormatUint(su, 10) == s
		if uok != ucanon || (uok && u != su) {
			t.Fatalf("ParseUint(%q) = %d, %v; strconv %d, canonical=%v", s, u, uok, su, ucanon)
		}
	})
}

func FuzzParseFloat(f *testing.F) {
	for _, s := range []string{"1.5", "-inf", "0x1p-3", "1e400", ".5", "nan", "1e-320", "5."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, ok := ParseFloat([]byte(s))
		if !ok {
			return
		}
		if math.IsNaN(v) {
			t.Fatalf("ParseFloat(%q) returned NaN", s)
		}
		out := AppendFloat(nil, v)
		w, ok := ParseFloat(out)
		if !ok || w != v || math.Signbit(w) != math.Signbit(v) {
			t.Fatalf("round trip %q -> %v -> %q -> %v, %v", s, v, out, w, ok)
		}
		if ld, ok := ParseLongDouble([]byte(s)); ok {
			h := AppendLongDouble(nil, ld)
			if _, ok := ParseLongDouble(h); !ok {
				t.Fatalf("AppendLongDouble(%q) = %q does not parse", s, h)
			}
		}
	})
}
