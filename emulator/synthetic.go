package emulator

import (
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/decimal256"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/bqread/bqread/schema"
)

// MaxSyntheticRows is the most rows a synthetic table may have; a synthetic.json with more is
// refused when the table is loaded.
const MaxSyntheticRows = 1_000_000_000_000

// syntheticSource generates rows deterministically from (seed, row index, column): any range of
// rows is computed on its own, without generating the rows before it.
type syntheticSource struct {
	schema schema.Schema
	arrow  *arrow.Schema
	rows   int64
	seed   uint64
}

func (s *syntheticSource) numRows() int64 { return s.rows }

func (s *syntheticSource) read(lo, hi int64, mem memory.Allocator) (arrow.Record, error) {
	if lo < 0 || hi > s.rows || lo > hi {
		return nil, fmt.Errorf("emulator: rows [%d, %d) outside [0, %d)", lo, hi, s.rows)
	}
	b := array.NewRecordBuilder(mem, s.arrow)
	defer b.Release()
	b.Reserve(int(hi - lo))
	names := make([]uint64, len(s.schema))
	trips := make([]*tripColumn, len(s.schema))
	anyTrip := false
	for i, f := range s.schema {
		names[i] = nameHash(f.Name)
		if gen := tripColumns[f.Name]; gen != nil && gen.typ == f.Type && !f.Repeated() {
			trips[i], anyTrip = gen, true
		}
	}
	var t trip
	for row := lo; row < hi; row++ {
		key := mix(s.seed, uint64(row))
		if anyTrip {
			t = newTrip(key, row)
		}
		for i, f := range s.schema {
			if trips[i] != nil {
				trips[i].fn(b.Field(i), &t)
				continue
			}
			genValue(b.Field(i), f, mix(key, names[i]))
		}
	}
	return b.NewRecord(), nil
}

// mix hashes two words into one (splitmix64 finalizer over their combination).
func mix(a, b uint64) uint64 {
	z := a*0x9e3779b97f4a7c15 ^ (b + 0x632be59bd9b4e019)
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

func nameHash(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64()
}

// genValue appends a generated value of any column type; key determines it.
func genValue(b array.Builder, f *schema.Field, key uint64) {
	if f.Repeated() {
		lb := b.(*array.ListBuilder)
		lb.Append(true)
		elem := *f
		elem.Mode = schema.Required
		for i := range key % 4 {
			genValue(lb.ValueBuilder(), &elem, mix(key, i+1))
		}
		return
	}
	if f.Nullable() && mix(key, 7)%20 == 0 {
		b.AppendNull()
		return
	}
	genScalar(b, f, key)
}

var (
	synthEpoch  = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	fiveYearsUs = int64(5 * 365 * microsPerDay)
)

func genScalar(b array.Builder, f *schema.Field, key uint64) {
	switch f.Type {
	case schema.Bool:
		b.(*array.BooleanBuilder).Append(key&1 == 1)
	case schema.Int64:
		b.(*array.Int64Builder).Append(int64(key%2_000_001) - 1_000_000)
	case schema.Float64:
		b.(*array.Float64Builder).Append(math.Round(float64(key>>11)/(1<<53)*1e6) / 1e3)
	case schema.Numeric:
		b.(*array.Decimal128Builder).Append(decimal128.FromI64(int64(key%1_000_000_000) * 1_000_000))
	case schema.BigNumeric:
		b.(*array.Decimal256Builder).Append(decimal256.FromI64(int64(key % 1_000_000_000_000)).Mul(decimal256.FromU64(1e15)).Mul(decimal256.FromU64(1e15)))
	case schema.String:
		b.(*array.StringBuilder).Append("s" + strconv.FormatUint(key%1_000_000_007, 36))
	case schema.Bytes:
		b.(*array.BinaryBuilder).Append([]byte(strconv.FormatUint(key, 16)))
	case schema.JSON:
		b.(*array.StringBuilder).Append(fmt.Sprintf(`{"k":%d,"tag":"t%d"}`, key%1000, key%7))
	case schema.Geography:
		b.(*array.StringBuilder).Append(point(key))
	case schema.Interval:
		b.(*array.MonthDayNanoIntervalBuilder).Append(arrow.MonthDayNanoInterval{
			Months: int32(key % 24), Days: int32(key >> 8 % 30), Nanoseconds: int64(key>>16%86400) * 1e9})
	case schema.Range:
		genRange(b.(*array.StructBuilder), f.RangeElementType.Type, key)
	case schema.Struct:
		sb := b.(*array.StructBuilder)
		sb.Append(true)
		for i, c := range f.Fields {
			genValue(sb.FieldBuilder(i), c, mix(key, nameHash(c.Name)))
		}
	default:
		genTemporal(b, f.Type, key)
	}
}

func genTemporal(b array.Builder, t schema.Type, key uint64) {
	if t == schema.Time {
		b.(*array.Time64Builder).Append(arrow.Time64(int64(key % microsPerDay)))
		return
	}
	appendMicros(b, t, synthEpoch+int64(key%uint64(fiveYearsUs)))
}

// appendMicros appends an instant given in µs since the epoch as a DATE, DATETIME or TIMESTAMP.
func appendMicros(b array.Builder, t schema.Type, us int64) {
	if t == schema.Date {
		b.(*array.Date32Builder).Append(arrow.Date32(us / microsPerDay))
		return
	}
	b.(*array.TimestampBuilder).Append(arrow.Timestamp(us))
}

// genRange appends a range of one to thirty days; one in ten ranges has no start, one in ten no end.
func genRange(b *array.StructBuilder, elem schema.Type, key uint64) {
	b.Append(true)
	start := synthEpoch + int64(key%uint64(fiveYearsUs))
	end := start + microsPerDay*(1+int64(mix(key, 3)%30))
	for i, us := range []int64{start, end} {
		if key%10 == uint64(i) {
			b.FieldBuilder(i).AppendNull()
			continue
		}
		appendMicros(b.FieldBuilder(i), elem, us)
	}
}

func point(key uint64) string {
	lon := -74.05 + float64(key%300_000)/1e6
	lat := 40.58 + float64(key>>20%270_000)/1e6
	return "POINT(" + strconv.FormatFloat(lon, 'f', 6, 64) + " " + strconv.FormatFloat(lat, 'f', 6, 64) + ")"
}

// trip is one generated taxi trip: the realistic values of the trips sample's columns.
type trip struct {
	id, passengers          int64
	pickup, dropoff         int64 // µs since the epoch
	vendor, payment         string
	km                      float64
	fare, tip               int64 // cents
	pickupZone, dropoffZone string
	point                   string
	nullPassengers, forward bool
}

var (
	tripEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	vendors   = []string{"CMT", "VTS", "DDS"}
	zones     = []string{"Midtown Center", "Upper East Side North", "JFK Airport", "LaGuardia Airport",
		"Times Sq/Theatre District", "Lincoln Square East", "East Village", "Murray Hill", "Clinton East",
		"Union Sq", "Penn Station/Madison Sq West", "Upper West Side South", "Lenox Hill West",
		"Financial District North", "Gramercy", "West Village", "Chelsea", "Yorkville West",
		"Battery Park City", "Williamsburg (North Side)"}
)

func newTrip(key uint64, row int64) trip {
	minutes := 3 + int64(mix(key, 1)%58)
	t := trip{
		id:         row + 1,
		passengers: 1 + int64(mix(key, 2)%6),
		pickup:     tripEpoch + row*15*microsPerSecond + int64(mix(key, 3)%(15*microsPerSecond)),
		vendor:     vendors[mix(key, 4)%uint64(len(vendors))],
		km:         math.Round(float64(minutes)*(0.2+float64(mix(key, 5)%600)/1000)*100) / 100,
		pickupZone: zones[mix(key, 6)%uint64(len(zones))], dropoffZone: zones[mix(key, 7)%uint64(len(zones))],
		point:          point(mix(key, 8)),
		nullPassengers: mix(key, 9)%33 == 0,
		forward:        mix(key, 10)%50 == 0,
	}
	t.dropoff = t.pickup + minutes*60*microsPerSecond + int64(mix(key, 11)%(60*microsPerSecond))
	switch p := mix(key, 12) % 100; {
	case p < 70:
		t.payment = "card"
	case p < 95:
		t.payment = "cash"
	case p < 98:
		t.payment = "no_charge"
	default:
		t.payment = "dispute"
	}
	t.fare = 300 + int64(math.Round(t.km*175)) + minutes*50
	if t.payment == "card" {
		t.tip = t.fare * int64(10+mix(key, 13)%16) / 100
	}
	return t
}

// cents converts an amount in cents to NUMERIC's scale of 9.
func cents(c int64) decimal128.Num { return decimal128.FromI64(c * 10_000_000) }

type tripColumn struct {
	typ schema.Type
	fn  func(array.Builder, *trip)
}

// tripColumns generate the trips sample's columns realistically when a synthetic table has them.
var tripColumns = map[string]*tripColumn{
	"trip_id":   {schema.Int64, func(b array.Builder, t *trip) { b.(*array.Int64Builder).Append(t.id) }},
	"vendor_id": {schema.String, func(b array.Builder, t *trip) { b.(*array.StringBuilder).Append(t.vendor) }},
	"pickup_time": {schema.Timestamp, func(b array.Builder, t *trip) {
		b.(*array.TimestampBuilder).Append(arrow.Timestamp(t.pickup))
	}},
	"dropoff_time": {schema.Timestamp, func(b array.Builder, t *trip) {
		b.(*array.TimestampBuilder).Append(arrow.Timestamp(t.dropoff))
	}},
	"pickup_date": {schema.Date, func(b array.Builder, t *trip) {
		b.(*array.Date32Builder).Append(arrow.Date32(t.pickup / microsPerDay))
	}},
	"passenger_count": {schema.Int64, func(b array.Builder, t *trip) {
		if t.nullPassengers {
			b.AppendNull()
			return
		}
		b.(*array.Int64Builder).Append(t.passengers)
	}},
	"trip_distance_km": {schema.Float64, func(b array.Builder, t *trip) { b.(*array.Float64Builder).Append(t.km) }},
	"pickup_zone":      {schema.String, func(b array.Builder, t *trip) { b.(*array.StringBuilder).Append(t.pickupZone) }},
	"dropoff_zone":     {schema.String, func(b array.Builder, t *trip) { b.(*array.StringBuilder).Append(t.dropoffZone) }},
	"pickup_point":     {schema.Geography, func(b array.Builder, t *trip) { b.(*array.StringBuilder).Append(t.point) }},
	"payment_type":     {schema.String, func(b array.Builder, t *trip) { b.(*array.StringBuilder).Append(t.payment) }},
	"fare_amount":      {schema.Numeric, func(b array.Builder, t *trip) { b.(*array.Decimal128Builder).Append(cents(t.fare)) }},
	"tip_amount":       {schema.Numeric, func(b array.Builder, t *trip) { b.(*array.Decimal128Builder).Append(cents(t.tip)) }},
	"total_amount": {schema.Numeric, func(b array.Builder, t *trip) {
		b.(*array.Decimal128Builder).Append(cents(t.fare + t.tip))
	}},
	"store_and_forward": {schema.Bool, func(b array.Builder, t *trip) { b.(*array.BooleanBuilder).Append(t.forward) }},
}
