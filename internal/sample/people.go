package sample

import (
	"fmt"
	"time"
)

// Person is one invented card holder.
type Person struct {
	Name   string
	DOB    string
	Gender string
	// Why names what the entry exercises (e.g. "Polish diacritics").
	Why string
}

// People is the fixed cast of invented card holders. Every name is made
// up; several embed a word meaning "test" or "sample".
var People = []Person{
	{Name: "Zofia Żółćńska-Próbna", DOB: "1987-03-14", Gender: "F", Why: "Polish diacritics"},
	{Name: "Nguyễn Thị Mẫu Thử", DOB: "1992-11-02", Gender: "F", Why: "Vietnamese stacked diacritics (precomposed under NFC)"},
	{Name: "Şükrü İğdeli Deneme", DOB: "1975-06-30", Gender: "M", Why: "Turkish dotted/dotless i, cedilla, breve"},
	{Name: "Þórdís Ðögg Prófsdóttir", DOB: "2001-01-01", Gender: "Non-binary", Why: "Icelandic thorn, eth"},
	// Q, W and Y with these marks have no precomposed form, so NFC keeps
	// combining marks (U+0323, U+0304, U+0308, U+0301, U+0330) in the string.
	{Name: "Q̣̄uinn W̌̃ẙ̄ Testa", DOB: "1969-12-31", Gender: "Two-Spirit", Why: "combining marks that do not compose under NFC"},
	{Name: "Maximiliana Aurelia Konstancja Eleonora Wilhelmina Testowska-Przykładowa Junior", DOB: "1958-08-08", Gender: "F", Why: "long name near 80 characters"},
	{Name: "Bo Ek", DOB: "2004-02-29", Gender: "X", Why: "short name, leap-day birth date"},
	{Name: "Alex Sampleton", DOB: "1990-05-17", Gender: "M", Why: "plain ASCII"},
	{Name: "Ngaio Ō'Tester-Demo", DOB: "1983-09-09", Gender: "Genderfluid", Why: "macron, apostrophe"},
	{Name: "Éowyn Fiction d'Exemple", DOB: "1979-04-04", Gender: "Woman", Why: "French accents"},
}

// dateLayout is the form of every date in Fields (the job contract's).
const dateLayout = "2006-01-02"

// Fields are the printed fields of a sample card, as a job carries them
// and layout draws them; Photo is the encoded image.
type Fields struct {
	Number  string
	Issue   int
	Name    string
	DOB     string
	Gender  string
	Issued  string // YYYY-MM-DD
	Expires string // YYYY-MM-DD
	Photo   []byte
}

// CardFields returns the fields of sample card i issued on today: card
// number SAMPLE-<i+1, six digits>, issue 1, issued today, expiring five
// years later, person People[i%len(People)] and Photo(i). i must be >= 0.
func CardFields(i int, today time.Time) Fields {
	p := People[i%len(People)]
	return Fields{
		Number:  fmt.Sprintf("SAMPLE-%06d", i+1),
		Issue:   1,
		Name:    p.Name,
		DOB:     p.DOB,
		Gender:  p.Gender,
		Issued:  today.Format(dateLayout),
		Expires: today.AddDate(5, 0, 0).Format(dateLayout),
		Photo:   Photo(i),
	}
}
