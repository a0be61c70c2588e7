# Harbour ingestion driver: one run of an ingestion, submitted by harbourd as a pyspark run.
#
# argv[1] is a JSON spec (see harbourd/src/ingest/runner.rs). Discovery and exactly-once come
# from Structured Streaming: a binaryFile stream over the source directory (paths and sizes
# only, the content column is never read) with a checkpoint per ingestion and
# trigger(availableNow=True). Each micro-batch reads its files with the real format reader,
# applies the schema and its evolution mode, and writes parquet into a staging directory;
# the files are then moved into the table under names keyed by the batch id, replacing what
# an earlier, interrupted attempt at the same batch left. A batch the checkpoint did not
# commit is replayed with the same files by the next run, so a killed run, retried, neither
# loses nor duplicates rows.
#
# Results go to <result_dir>/events.jsonl, one JSON object per line, appended and fsynced
# after each committed batch and at the end; harbourd reads it while and after the run.

import csv
import io
import json
import os
import re
import sys
import time
import traceback

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.observation import Observation

SPEC = json.loads(sys.argv[1])
RESCUED = "_rescued_data"
CORRUPT = "_corrupt_record"
BAD_FILE = "_harbour_bad_file"
ERROR_MARK = "HARBOUR_INGEST_ERROR: "


def emit(event):
    line = json.dumps(event, sort_keys=True)
    path = os.path.join(SPEC["result_dir"], "events.jsonl")
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())
    print("HARBOUR_INGEST " + line, flush=True)


class IngestError(Exception):
    """A failure the user can act on; its message becomes the run's message. The mark
    survives Spark wrapping it in a StreamingQueryException."""

    def __init__(self, message):
        super().__init__(ERROR_MARK + message)


spark = SparkSession.builder.appName("ingest:" + SPEC["name"]).getOrCreate()
spark.sparkContext.setLogLevel("WARN")
if "://" not in SPEC["source_dir"] or SPEC["source_dir"].startswith("file:"):
    # A batch's files are read as a list of paths. Past 32 paths Spark lists them with a
    # distributed job of one task per path, which for local files took seconds (two such
    # jobs per batch: the stream's and the reader's) to do what the driver does in
    # milliseconds. Remote sources keep Spark's parallel listing: there a call costs a
    # round trip.
    spark.conf.set("spark.sql.sources.parallelPartitionDiscovery.threshold", str(2**31 - 1))
jvm = spark._jvm
hadoop_conf = spark._jsc.hadoopConfiguration()
# Options named fs.* (fs.s3a.endpoint, ...) are Hadoop file system settings: the stream's
# listing needs them as much as the reader does.
for key, value in SPEC.get("options", []):
    if key.startswith("fs."):
        hadoop_conf.set(key, value)


def hpath(p):
    return jvm.org.apache.hadoop.fs.Path(p)


def fs_of(p):
    return hpath(p).getFileSystem(hadoop_conf)


# --- schema state -------------------------------------------------------------------------

def to_struct(fields):
    return T.StructType(
        [T.StructField(f["name"], T._parse_datatype_string(f["data_type"]), True) for f in fields]
    )


def fields_of(struct):
    return [{"name": f.name, "data_type": f.dataType.simpleString()} for f in struct.fields]


def load_schema():
    """The newest of what harbourd sent and what an earlier run of this driver saved."""
    best = (SPEC.get("schema_version") or 0, SPEC.get("schema"))
    try:
        with open(SPEC["schema_file"], encoding="utf-8") as f:
            saved = json.load(f)
        if saved["version"] > best[0]:
            best = (saved["version"], saved["fields"])
    except FileNotFoundError:
        pass
    return best


def save_schema(version, fields):
    tmp = SPEC["schema_file"] + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"version": version, "fields": fields}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, SPEC["schema_file"])


SCHEMA_VERSION, SCHEMA_FIELDS = load_schema()
HINTS = {h["name"].lower(): h["data_type"] for h in SPEC.get("schema_hints", [])}


def with_hints(fields):
    return [
        {"name": f["name"], "data_type": HINTS.get(f["name"].lower(), f["data_type"])}
        for f in fields
    ]


# --- reading a batch's files --------------------------------------------------------------

OPTIONS = {k: v for k, v in SPEC.get("options", [])}


def opt(name, default):
    for k, v in OPTIONS.items():
        if k.lower() == name.lower():
            return v
    return default


def first_line(path):
    """The first line of a file, for CSV headers (local files directly, others through
    Hadoop)."""
    local = path[5:] if path.startswith("file:") else None
    if local is not None:
        while local.startswith("//"):
            local = local[1:]
        with open(local, "r", encoding=opt("encoding", "utf-8"), errors="replace") as f:
            return f.readline()
    stream = fs_of(path).open(hpath(path))
    try:
        reader = jvm.java.io.BufferedReader(jvm.java.io.InputStreamReader(stream))
        return reader.readLine() or ""
    finally:
        stream.close()


def csv_names(path):
    sep = opt("sep", opt("delimiter", ","))
    quote = opt("quote", '"')
    line = first_line(path).rstrip("\r\n")
    tokens = next(csv.reader(io.StringIO(line), delimiter=sep, quotechar=quote or None), [])
    if opt("header", "true").lower() == "true":
        return [t.strip() for t in tokens]
    return ["_c%d" % i for i in range(len(tokens))]


def csv_reader():
    r = spark.read.options(**OPTIONS)
    return r.option("header", opt("header", "true")).option("mode", "PERMISSIVE").option(
        "columnNameOfCorruptRecord", CORRUPT
    )


# Options that concern reading whole files, not parsing one CSV record (from_csv).
FILE_ONLY_OPTIONS = {
    "header", "inferschema", "enforceschema", "mode", "columnnameofcorruptrecord", "multiline",
    "samplingratio", "encoding", "charset", "linesep", "pathglobfilter", "recursivefilelookup",
}


# The types Spark's CSV parser reads a value into; other columns are read as strings.
CSV_TYPES = (
    T.ByteType, T.ShortType, T.IntegerType, T.LongType, T.FloatType, T.DoubleType,
    T.DecimalType, T.BooleanType, T.DateType, T.TimestampType, T.TimestampNTZType,
)


def csv_type(t):
    return t if isinstance(t, CSV_TYPES) else T.StringType()


class Frame:
    """One DataFrame of a batch: its columns as read (`df`, with the corrupt-record column),
    and for a CSV read with the schema's types, `text`: the same record re-parsed with every
    column as a string, for the rows the typed parse refused (null elsewhere). Such a row is
    malformed if it does not parse as strings either; otherwise some value did not fit its
    type, and `text` has the value to rescue."""

    def __init__(self, df, text=None):
        self.df = df
        self.text = text


class Batch:
    """A batch's files as their format reads them: `columns` (the data columns, in order),
    `infer(cols)` (the types of named columns, read from the files) and `frames(types)` (the
    DataFrames to shape, given the schema's types by lower-cased column name)."""

    def __init__(self, columns, infer, frames):
        self.columns = columns
        self.infer = infer
        self.frames = frames


def read_batch(paths):
    fmt = SPEC["format"]
    if fmt == "csv":
        groups = {}
        for p in paths:
            groups.setdefault(tuple(csv_names(p)), []).append(p)
        columns = []
        for names in groups:
            columns += [n for n in names if n not in columns and n != CORRUPT]

        def infer(cols):
            types = {}
            for names, group in groups.items():
                if not any(c in names for c in cols):
                    continue
                typed = csv_reader().option("inferSchema", "true").csv(group).schema
                for f in typed.fields:
                    if f.name in cols and f.name != CORRUPT:
                        old = types.get(f.name)
                        types[f.name] = f.dataType if old in (None, f.dataType) else T.StringType()
            return types

        def frames(types):
            # Each column is parsed straight into its type (as a plain spark.read with the
            # schema does), new columns as strings. Only the rows Spark's parser refused pay
            # for a second parse, of their own line.
            parse_options = {
                k: v for k, v in OPTIONS.items() if k.lower() not in FILE_ONLY_OPTIONS
            }
            parse_options.update(mode="PERMISSIVE", columnNameOfCorruptRecord=CORRUPT)
            out = []
            for names, group in groups.items():
                read = [csv_type(types.get(n.lower())) for n in names]
                schema = T.StructType(
                    [T.StructField(n, t, True) for n, t in zip(names, read)]
                    + [T.StructField(CORRUPT, T.StringType(), True)]
                )
                df = csv_reader().option("enforceSchema", "true").schema(schema).csv(group)
                text = None
                if any(t != T.StringType() for t in read):
                    strings = ", ".join(
                        "`%s` STRING" % n.replace("`", "``") for n in list(names) + [CORRUPT]
                    )
                    text = F.when(
                        F.col(CORRUPT).isNotNull(),
                        F.from_csv(F.col(CORRUPT), strings, parse_options),
                    )
                out.append(Frame(df, text))
            return out

        return Batch(columns, infer, frames)
    if fmt == "json":
        reader = spark.read.options(**OPTIONS).option("mode", "PERMISSIVE").option(
            "columnNameOfCorruptRecord", CORRUPT
        )
        raw = reader.option("primitivesAsString", "true").json(paths)
        if CORRUPT not in raw.columns:
            raw = raw.withColumn(CORRUPT, F.lit(None).cast("string"))

        def infer(cols):
            typed = spark.read.options(**OPTIONS).json(paths).schema
            return {f.name: f.dataType for f in typed.fields if f.name in cols}

        columns = [c for c in raw.columns if c != CORRUPT]
        return Batch(columns, infer, lambda types: [Frame(raw)])
    if fmt in ("parquet", "orc"):
        raw = spark.read.options(**OPTIONS).option("mergeSchema", "true").format(fmt).load(paths)
        have = {f.name: f.dataType for f in raw.schema.fields}
        raw = raw.withColumn(CORRUPT, F.lit(None).cast("string"))
        return Batch(
            list(have),
            lambda cols: {c: have[c] for c in cols if c in have},
            lambda types: [Frame(raw)],
        )
    if fmt == "text":
        raw = spark.read.options(**OPTIONS).text(paths)
        raw = raw.withColumn(CORRUPT, F.lit(None).cast("string"))
        return Batch(
            ["value"], lambda cols: {c: T.StringType() for c in cols}, lambda types: [Frame(raw)]
        )
    raise IngestError("unknown format '%s'" % fmt)


def shape(frame, struct, rescue_cols):
    """The frame as the table's columns, `_rescued_data`, and the corrupt-record column (set
    on malformed rows only).

    A value that does not fit its column's type becomes NULL there and goes into
    `_rescued_data`, with the file it came from. Each row pays a few null tests; the JSON is
    built only for rows where one is true (to_json leaves the struct's null fields out, so
    the object names exactly the values that did not fit). `rescue_cols` are new columns
    whose values are rescued whole (evolution mode rescue)."""
    df, text = frame.df, frame.text
    actual = {c.lower(): c for c in df.columns if c != CORRUPT}
    corrupt = F.col(CORRUPT)
    if text is not None:
        # The typed parse refused the row: malformed if it fails as strings too; else a
        # value did not fit, and the row is kept.
        malformed = text.getField(CORRUPT).isNotNull()
        mismatch = corrupt.isNotNull() & text.getField(CORRUPT).isNull()
        corrupt = F.when(malformed, corrupt)
    out, failed, kept = [], [], []
    for f in struct.fields:
        src = actual.get(f.name.lower())
        if src is None:
            out.append(F.lit(None).cast(f.dataType).alias(f.name))
            continue
        col = F.col("`%s`" % src)
        read = df.schema[src].dataType
        if read == f.dataType and (text is None or read == T.StringType()):
            out.append(col.alias(f.name))
            continue
        if read == f.dataType:
            # Parsed with its type: only the refused rows have a string to cast.
            given = text.getField(src)
            value = given.try_cast(f.dataType)
            out.append(F.when(mismatch, value).otherwise(col).alias(f.name))
            bad = mismatch & given.isNotNull() & value.isNull()
        else:
            given = col
            value = col.try_cast(f.dataType)
            out.append(value.alias(f.name))
            bad = col.isNotNull() & value.isNull()
        failed.append(bad)
        kept.append(F.when(bad, given.cast("string")).alias(f.name))
    for c in rescue_cols:
        src = actual.get(c.lower())
        if src is not None:
            col = F.col("`%s`" % src)
            failed.append(col.isNotNull())
            kept.append(col.cast("string").alias(c))
    if failed:
        any_failed = failed[0]
        for b in failed[1:]:
            any_failed = any_failed | b
        rescued = F.when(
            corrupt.isNull() & any_failed,
            F.to_json(
                F.struct(*kept, F.input_file_name().alias("_file_path")),
                {"ignoreNullFields": "true"},
            ),
        )
    else:
        rescued = F.lit(None).cast("string")
    return df.select(
        *out,
        rescued.alias(RESCUED),
        corrupt.alias(CORRUPT),
        # The file of a malformed row, for the counts (an observed metric cannot call
        # input_file_name() itself).
        F.when(corrupt.isNotNull(), F.input_file_name()).alias(BAD_FILE),
    )


# --- one micro-batch ----------------------------------------------------------------------

def commit_files(staging, target, batch_id):
    """Moves the staged parquet files into the table under names keyed by the batch, after
    removing what an earlier attempt at the same batch left there."""
    fs = fs_of(target)
    prefix = "part-b%010d-" % batch_id
    if fs.exists(hpath(target)):
        for st in fs.listStatus(hpath(target)):
            if st.getPath().getName().startswith(prefix):
                fs.delete(st.getPath(), False)
    else:
        fs.mkdirs(hpath(target))
    n = 0
    for st in fs.listStatus(hpath(staging)):
        name = st.getPath().getName()
        if name.startswith("part-") and name.endswith(".parquet"):
            dest = hpath("%s/%s%05d.parquet" % (target, prefix, n))
            if not fs.rename(st.getPath(), dest):
                raise IngestError("cannot move %s to %s" % (st.getPath(), dest))
            n += 1
    fs.delete(hpath(staging), True)
    return n


def files_between(paths, first, last):
    """The batch's paths from `first` to `last` (input_file_name() values: the first and last
    file with malformed rows). It URL-encodes names and spells local files file:///a/b where
    the stream has file:/a/b, so paths are compared in its spelling; all paths when that is
    not certain (a name with a character it would encode)."""
    from urllib.parse import quote

    def spelled(p):
        if p.startswith("file:"):
            p = "file:///" + p[5:].lstrip("/")
        return p

    if first is None or last is None or any(quote(p, safe="/:") != p for p in paths):
        return paths
    return [p for p in paths if first <= spelled(p) <= last] or paths


def process(batch_df, batch_id):
    global SCHEMA_VERSION, SCHEMA_FIELDS
    started = time.time()
    files = [
        (r["path"], int(r["length"]), int(r["modificationTime"].timestamp() * 1000))
        for r in batch_df.select("path", "length", "modificationTime").collect()
    ]
    if not files:
        return
    paths = [f[0] for f in files]
    phases = {"list": time.time() - started}
    batch = read_batch(paths)
    data_cols = batch.columns

    version, fields, change = SCHEMA_VERSION, SCHEMA_FIELDS, None
    known = {f["name"].lower() for f in (fields or [])}
    new_cols = [c for c in data_cols if c.lower() not in known and c != RESCUED]
    mode = SPEC["evolution"]
    if fields is None:
        types = batch.infer(data_cols)
        fields = with_hints(
            [{"name": c, "data_type": types.get(c, T.StringType()).simpleString()} for c in data_cols]
        )
        version, change = version + 1, "inferred from %d file(s)" % len(files)
        new_cols = []
    elif new_cols:
        if mode == "failOnNewColumns":
            raise IngestError(
                "new column(s) %s in %s; the evolution mode failOnNewColumns stops here: add "
                "them to the schema (harbour ingest update --schema) or change the mode"
                % (", ".join(new_cols), ", ".join(sorted({os.path.basename(p) for p in paths})))
            )
        if mode == "addNewColumns":
            types = batch.infer(new_cols)
            added = with_hints(
                [{"name": c, "data_type": types.get(c, T.StringType()).simpleString()} for c in new_cols]
            )
            fields = fields + added
            version = version + 1
            change = "added " + ", ".join("%s %s" % (a["name"], a["data_type"]) for a in added)

    struct = to_struct(fields)
    types = {f.name.lower(): f.dataType for f in struct.fields}
    rescue_cols = new_cols if mode == "rescue" else []
    shaped = None
    for frame in batch.frames(types):
        one = shape(frame, struct, rescue_cols)
        shaped = one if shaped is None else shaped.unionByName(one)
    # Counted in the same pass as the write. Only aggregates Spark generates code for (count,
    # min, max): a collect_set of the files with malformed rows cost ~10% of the batch.
    obs = Observation("harbour_batch_%d" % batch_id)
    shaped = shaped.observe(
        obs,
        F.count(F.lit(1)).alias("rows"),
        F.count(CORRUPT).alias("malformed"),
        F.count(RESCUED).alias("rescued"),
        F.min(BAD_FILE).alias("first_bad_file"),
        F.max(BAD_FILE).alias("last_bad_file"),
    )
    good = shaped.where(F.col(CORRUPT).isNull()).drop(CORRUPT, BAD_FILE)

    target = SPEC["target_path"]
    staging = "%s/_harbour_staging/batch-%d" % (target, batch_id)
    phases["plan"] = time.time() - started - phases["list"]
    mark = time.time()
    good.write.mode("overwrite").parquet(staging)
    phases["write"] = time.time() - mark
    stats = obs.get
    rows_seen = int(stats.get("rows") or 0)
    malformed = int(stats.get("malformed") or 0)
    rescued_rows = int(stats.get("rescued") or 0)
    if malformed and SPEC.get("fail_on_malformed"):
        fs_of(staging).delete(hpath(staging), True)
        raise IngestError(
            "%d malformed row(s) in batch %d (fail_on_malformed is on); nothing of the batch "
            "was written" % (malformed, batch_id)
        )
    if malformed:
        # Set aside where a table read does not look (leading underscore), for inspection:
        # the row's columns as far as they parsed, the line itself and its file. Only the
        # files from the first to the last with such rows are read again.
        bad_paths = files_between(paths, stats.get("first_bad_file"), stats.get("last_bad_file"))
        again = read_batch(bad_paths).frames(types)
        bad = None
        for frame in again:
            one = shape(frame, struct, rescue_cols).where(F.col(CORRUPT).isNotNull())
            one = one.drop(RESCUED).withColumnRenamed(BAD_FILE, "_file_path")
            bad = one if bad is None else bad.unionByName(one)
        mark = time.time()
        bad.write.mode("overwrite").json("%s/_harbour_malformed/batch-%d" % (target, batch_id))
        phases["malformed"] = time.time() - mark
    mark = time.time()
    commit_files(staging, target, batch_id)
    phases["commit"] = time.time() - mark
    if change is not None:
        save_schema(version, fields)
        SCHEMA_VERSION, SCHEMA_FIELDS = version, fields
    emit(
        {
            "event": "batch",
            "batch_id": batch_id,
            "files": [{"path": p, "bytes": b, "modified_ms": m} for p, b, m in files],
            "rows": rows_seen - malformed,
            "bytes": sum(b for _, b, _ in files),
            "malformed_rows": malformed,
            "rescued_rows": rescued_rows,
            "schema_version": version,
            "schema": fields,
            "schema_change": change,
            "duration_ms": int((time.time() - started) * 1000),
            "phases_ms": {k: int(v * 1000) for k, v in phases.items()},
        }
    )


def main():
    stream = spark.readStream.format("binaryFile").schema(
        T.StructType(
            [
                T.StructField("path", T.StringType(), False),
                T.StructField("modificationTime", T.TimestampType(), False),
                T.StructField("length", T.LongType(), False),
                T.StructField("content", T.BinaryType(), True),
            ]
        )
    )
    if SPEC.get("glob"):
        stream = stream.option("pathGlobFilter", SPEC["glob"])
    if SPEC.get("max_files_per_batch"):
        stream = stream.option("maxFilesPerTrigger", str(SPEC["max_files_per_batch"]))
    query = (
        stream.load(SPEC["source_dir"])
        .select("path", "length", "modificationTime")
        .writeStream.foreachBatch(process)
        .option("checkpointLocation", SPEC["checkpoint"])
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()


if __name__ == "__main__":
    try:
        main()
        emit({"event": "done", "status": "succeeded", "schema_version": SCHEMA_VERSION})
        spark.stop()
    except Exception as e:  # noqa: BLE001 - every failure is reported, then the run fails
        text = str(e)
        at = text.find(ERROR_MARK)
        if at >= 0:
            message = text[at + len(ERROR_MARK):].split("\n")[0]
        else:
            # The innermost exception's own line says the most ("...Exception: why").
            found = re.findall(r"^[\w.]*(?:Error|Exception): (.+)$", text, re.M)
            message = (found[-1] if found else text.strip().split("\n")[0])[:500]
        traceback.print_exc()
        emit({"event": "done", "status": "failed", "error": message})
        sys.exit(1)
