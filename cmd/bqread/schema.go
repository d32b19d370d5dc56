package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/apache/arrow-go/v18/parquet/file"
	pqschema "github.com/apache/arrow-go/v18/parquet/schema"
	"github.com/spf13/cobra"

	"github.com/bqread/bqread/emulator"
	"github.com/bqread/bqread/export"
	"github.com/bqread/bqread/output"
	"github.com/bqread/bqread/schema"
)

// schemaOptions are the inputs and flags of schema.
type schemaOptions struct {
	table          string
	format         string
	columns        []string
	billingProject string
	endpoint       string
	emulator       bool
	emulatorData   string
	stdout         io.Writer
}

// schemaForms are the forms schema prints a schema in, each with what prints it and its help.
var schemaForms = []struct {
	name, help string
	print      func(io.Writer, schema.Schema) error
}{
	{"bq", "the JSON list of bq show --schema: {name, type, mode, fields, rangeElementType}", printBQSchema},
	{"arrow", "the Arrow schema of an Arrow export, with the google:sqlType field metadata", printArrowSchema},
	{"avro", "the Avro schema (JSON) of an Avro export", printAvroSchema},
	{"parquet", "the Parquet schema of a Parquet export", printParquetSchema},
}

func newSchemaCmd(s streams) *cobra.Command {
	o := &schemaOptions{stdout: s.out}
	cmd := &cobra.Command{
		Use:   "schema TABLE [flags]",
		Short: "Print a table's schema, as bq show --schema does or as an export's Arrow, Avro or Parquet schema",
		Long: `schema prints the schema of TABLE as the Storage Read API gives it: it creates a read session of one
stream and reads no rows (a session costs nothing until rows are read). --format says how:
  bq       (default) the JSON list of bq show --schema, usable as a schema.json for bq mk and the emulator
  arrow    the Arrow schema of an Arrow export, with the google:sqlType field metadata
  avro     the Avro schema of an Avro export, as JSON
  parquet  the Parquet schema of a Parquet export
Types are GoogleSQL names (INT64, FLOAT64, BOOL, STRUCT) and every column has its mode. Column
descriptions, policy tags and default values are not part of a read session and are left out.
With --columns, the schema is that of the columns export --columns would write.

Exit codes: 0 success, 1 error, 2 usage error (bad flag, table reference, column; unknown table).`,
		Example: `  bqread schema bqread-demo.samples.all_types --emulator
  bqread schema bqread-demo.samples.trips --emulator --format parquet --columns trip_id,fare_amount
  bqread schema my-project.my_dataset.events --format avro`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.table = args[0]
			if !cmd.Flags().Changed("endpoint") {
				o.endpoint = os.Getenv("BQREAD_ENDPOINT")
			}
			return runSchema(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.format, "format", "f", "bq", "what to print: bq, arrow, avro or parquet")
	f.StringSliceVar(&o.columns, "columns", nil, "only these columns, comma separated (dotted paths into STRUCTs); default all")
	f.StringVar(&o.billingProject, "billing-project", "", "project the read session is created in (default the table's project)")
	f.StringVar(&o.endpoint, "endpoint", "", "Storage Read endpoint HOST:PORT (env BQREAD_ENDPOINT); loopback is plaintext without auth")
	f.BoolVar(&o.emulator, "emulator", false, "start the emulator in-process and read from it")
	f.StringVar(&o.emulatorData, "emulator-data", "", "with --emulator, also serve the tables under this directory")
	var forms []cobra.Completion
	for _, sf := range schemaForms {
		forms = append(forms, cobra.CompletionWithDesc(sf.name, sf.help))
	}
	cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions(forms, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func runSchema(ctx context.Context, o *schemaOptions) error {
	var write func(io.Writer, schema.Schema) error
	for _, sf := range schemaForms {
		if sf.name == o.format {
			write = sf.print
		}
	}
	switch {
	case write == nil:
		return usageErrorf("schema: --format %q: use bq, arrow, avro or parquet", o.format)
	case o.emulator && o.endpoint != "":
		return usageErrorf("schema: --emulator and --endpoint (or BQREAD_ENDPOINT) both name a server: use one")
	case o.emulatorData != "" && !o.emulator:
		return usageErrorf("schema: --emulator-data needs --emulator")
	}
	opts := export.Options{Table: o.table, Columns: o.columns, BillingProject: o.billingProject, Endpoint: o.endpoint}
	if o.emulator {
		inst, err := emulator.Start(ctx, emulator.Options{DataDir: o.emulatorData})
		if err != nil {
			return fmt.Errorf("start the emulator: %w", err)
		}
		defer inst.Close()
		opts.Endpoint = inst.GRPCAddr()
	}
	s, err := export.ReadSchema(ctx, opts)
	if err != nil {
		return explain(err, opts)
	}
	return write(o.stdout, s)
}

// printBQSchema prints s as `bq show --schema --format=prettyjson` does.
func printBQSchema(w io.Writer, s schema.Schema) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// printArrowSchema prints the Arrow schema export writes s as (schema.ArrowSchema).
func printArrowSchema(w io.Writer, s schema.Schema) error {
	_, err := fmt.Fprintln(w, schema.ArrowSchema(s))
	return err
}

// printAvroSchema prints the Avro schema export writes s as (schema.AvroSchema), indented.
func printAvroSchema(w io.Writer, s schema.Schema) error {
	var b bytes.Buffer
	if err := json.Indent(&b, []byte(schema.AvroSchema(s)), "", "  "); err != nil {
		return err
	}
	b.WriteByte('\n')
	_, err := b.WriteTo(w)
	return err
}

// printParquetSchema prints the Parquet schema export writes s as: it writes a Parquet file of no
// rows with the export's writer and prints the schema in its footer, so that it is the writer's
// mapping, not another one.
func printParquetSchema(w io.Writer, s schema.Schema) error {
	var b bytes.Buffer
	pw, err := output.NewWriter(&b, output.Parquet, schema.ArrowSchema(s), output.Options{})
	if err != nil {
		return err
	}
	if err := pw.Close(); err != nil {
		return err
	}
	r, err := file.NewParquetReader(bytes.NewReader(b.Bytes()))
	if err != nil {
		return fmt.Errorf("read back the parquet schema: %w", err)
	}
	defer r.Close()
	pqschema.PrintSchema(r.MetaData().Schema.Root(), w, 2)
	return nil
}
