// Package timestamp reads RFC 3339 date-times as Unix milliseconds without
// allocating, for the before/after clause operators, which parse a context
// attribute on every evaluation. time.Parse allocates a *time.Location for
// every non-UTC offset, which the evaluation hot path must not do.
package timestamp

// ParseRFC3339 reads "2006-01-02T15:04:05Z" with optional fractional seconds
// (any number of digits, truncated to milliseconds) and a "Z" or "±hh:mm"
// offset, returning the instant as milliseconds since the Unix epoch. 'T' may
// be 't' or a space and 'Z' may be 'z', as RFC 3339 allows. A leap second
// (:60) is read as :59.999.
func ParseRFC3339(s string) (int64, bool) {
	if len(s) < 20 {
		return 0, false
	}
	year, ok1 := digits(s, 0, 4)
	month, ok2 := digits(s, 5, 2)
	day, ok3 := digits(s, 8, 2)
	hour, ok4 := digits(s, 11, 2)
	minute, ok5 := digits(s, 14, 2)
	sec, ok6 := digits(s, 17, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) ||
		s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':' ||
		(s[10] != 'T' && s[10] != 't' && s[10] != ' ') {
		return 0, false
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) ||
		hour > 23 || minute > 59 || sec > 60 {
		return 0, false
	}
	var ms int64
	i := 19
	if i < len(s) && s[i] == '.' {
		i++
		start := i
		scale := int64(100)
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			ms += int64(s[i]-'0') * scale
			scale /= 10
			i++
		}
		if i == start {
			return 0, false
		}
	}
	if sec == 60 {
		sec, ms = 59, 999
	}
	var offset int64
	switch {
	case i == len(s)-1 && (s[i] == 'Z' || s[i] == 'z'):
	case i == len(s)-6 && (s[i] == '+' || s[i] == '-') && s[i+3] == ':':
		oh, ok1 := digits(s, i+1, 2)
		om, ok2 := digits(s, i+4, 2)
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return 0, false
		}
		offset = int64(oh*60+om) * 60
		if s[i] == '-' {
			offset = -offset
		}
	default:
		return 0, false
	}
	secs := daysFromCivil(year, month, day)*86400 + int64(hour*3600+minute*60+sec) - offset
	return secs*1000 + ms, true
}

func digits(s string, at, n int) (int, bool) {
	v := 0
	for i := at; i < at+n; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 {
		era = (y - 399) / 400 // floor division: January and February of year 0 fall in era -1
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}
