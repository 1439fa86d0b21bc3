"""Reading CSV and JSON-lines files as rows of text values, strictly and in file order.

CSV follows RFC 4180 as the DuckDB engine reads it: a header line, `"` quotes (doubled
inside), quoted line breaks, `\\n` or `\\r\\n` line ends, an unquoted empty field is absent
(NULL) while `""` is an empty string. JSON lines: one object per line, values kept as the
text DuckDB's `->>` gives (strings unquoted, numbers as written, objects and arrays as JSON).

Limits every engine keeps: at most 4,096 columns per file, 16 MiB per line, JSON nested at
most 64 levels. Problems are raised as JobProblem naming the file and line or row, never
quoting a line's content (a file that is not CSV may be a password file).
"""

import gzip
import json
import re

from job_problems import JobProblem, column_list, shown_name

MAX_COLUMNS = 4096
MAX_LINE_BYTES = 16 * 1024 * 1024
MAX_JSON_DEPTH = 64

CSV_ROWS_ARE = "data rows counted from 1, the header excluded"
JSON_ROWS_ARE = "JSON records counted from 1"
PARQUET_ROWS_ARE = "rows counted from 1"

_QUOTED = re.compile(r'"((?:[^"]|"")*)"')
_PLAIN = re.compile(r'[^,"\r\n]*')


def _limit(number):
    return f"{number:,}"


def read_bytes(path):
    """The file's bytes, gunzipped when it is gzip-compressed (by its magic number)."""
    with open(path, "rb") as handle:
        data = handle.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data


def decode(data, source):
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise JobProblem(
            "VALIDATION",
            f"{source.name} is not UTF-8 text: convert the file to UTF-8",
            {"file": source.uri},
        )
    return text[1:] if text.startswith("\ufeff") else text


class CsvRecords:
    """The records of a CSV text: `(line, fields)` with fields None when unquoted and empty."""

    def __init__(self, text, source):
        self.text = text
        self.source = source
        self.position = 0
        self.line = 1  # the line the next record starts on
        self._counted = 0  # text[:_counted] has been scanned for line breaks

    def _line_at(self, position):
        self.line += self.text.count("\n", self._counted, position)
        self._counted = position
        return self.line

    def next_record(self):
        """The next record, or None at the end of the text."""
        text = self.text
        start = self.position
        if start >= len(text):
            return None
        line = self._line_at(start)
        fields = []
        position = start
        while True:
            if position < len(text) and text[position] == '"':
                match = _QUOTED.match(text, position)
                if not match:
                    self._malformed(line, "has a quote that is not closed")
                fields.append(match[1].replace('""', '"'))
                position = match.end()
            else:
                match = _PLAIN.match(text, position)
                value = match[0]
                fields.append(None if value == "" else value)
                position = match.end()
            if position - start > MAX_LINE_BYTES:
                self._malformed(
                    line, f"is longer than {_limit(MAX_LINE_BYTES)} bytes, the limit for one line"
                )
            if len(fields) > MAX_COLUMNS:
                raise JobProblem(
                    "VALIDATION",
                    f"{self.source.name} line {line} has more than {_limit(MAX_COLUMNS)} columns, "
                    "the limit for one file: split the file's columns over several feature sets",
                    {"file": self.source.uri, "line": line, "limit": MAX_COLUMNS},
                )
            if position >= len(text):
                break
            char = text[position]
            if char == ",":
                position += 1
                continue
            if char == "\n":
                position += 1
                break
            if char == "\r":
                position += 2 if text.startswith("\r\n", position) else 1
                break
            self._malformed(line, "has a quote inside a field that is not quoted")
        self.position = position
        return line, fields

    def _malformed(self, line, why):
        raise JobProblem(
            "VALIDATION",
            f"{self.source.name} line {line} is not valid CSV: it {why}: "
            'quote fields that hold commas, quotes or line breaks ("…", quotes doubled)',
            {"file": self.source.uri, "line": line},
        )


def csv_header(records, source):
    first = records.next_record()
    if first is None:
        raise empty_file(source)
    _, names = first
    if len(names) > MAX_COLUMNS:
        raise JobProblem(
            "VALIDATION",
            f"{source.name} has {_limit(len(names))} columns, more than {_limit(MAX_COLUMNS)}, "
            "the limit for one file: split its columns over several files",
            {"file": source.uri, "columns": len(names), "limit": MAX_COLUMNS},
        )
    seen = set()
    for i, name in enumerate(names):
        if name is None or name.strip() == "":
            raise JobProblem(
                "VALIDATION",
                f"{source.name} header: column {i + 1} has no name: name every column in the first line",
                {"file": source.uri, "position": i + 1},
            )
        if name in seen:
            raise JobProblem(
                "VALIDATION",
                f"{source.name} header names column {shown_name(name)} twice: column names must be unique",
                {"file": source.uri, "position": i + 1},
            )
        seen.add(name)
    return names


def empty_file(source):
    return JobProblem(
        "VALIDATION",
        f"{source.role} {source.name} is empty ({source.uri}): it has no header and no rows; remove it or fill it",
        {"file": source.uri},
    )


def csv_rows(text, source):
    """(row number, fields) of the data rows, each with exactly the header's field count."""
    records = CsvRecords(text, source)
    names = csv_header(records, source)
    row = 0
    while True:
        record = records.next_record()
        if record is None:
            return
        line, fields = record
        if len(fields) != len(names):
            raise JobProblem(
                "VALIDATION",
                f"{source.name} line {line} has {len(fields)} fields where the header has "
                f"{len(names)}: every line needs one value per column (empty for none)",
                {"file": source.uri, "line": line},
            )
        row += 1
        yield row, fields


def _json_depth_ok(line):
    """True when the line nests at most MAX_JSON_DEPTH levels (brackets in strings aside)."""
    if line.count("[") + line.count("{") <= MAX_JSON_DEPTH:
        return True
    depth = 0
    in_string = False
    escaped = False
    for char in line:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return False
        elif char in "]}":
            depth -= 1
    return True


def _exact_json(text):
    return json.loads(text, parse_int=str, parse_float=str)


def json_records(text, source):
    """(line, record number, parsed value) of each non-blank line, limits checked."""
    record = 0
    for index, line in enumerate(text.split("\n")):
        number = index + 1
        if line.strip() == "":
            continue
        if len(line) > MAX_LINE_BYTES:
            raise JobProblem(
                "VALIDATION",
                f"{source.name} line {number} is longer than {_limit(MAX_LINE_BYTES)} bytes, the limit for one line",
                {"file": source.uri, "line": number, "limit": MAX_LINE_BYTES},
            )
        if not _json_depth_ok(line):
            raise JobProblem(
                "VALIDATION",
                f"{source.name} line {number} nests JSON deeper than {MAX_JSON_DEPTH} levels, "
                "the limit for one line: feature values are flat objects of scalars and lists",
                {"file": source.uri, "line": number, "limit": MAX_JSON_DEPTH},
            )
        try:
            value = _exact_json(line)
        except (ValueError, RecursionError):
            raise JobProblem(
                "VALIDATION",
                f"{source.name} line {number} is not valid JSON: write one JSON object per line",
                {"file": source.uri, "line": number},
            )
        record += 1
        yield number, record, value


def json_keys(text, source):
    """The keys of a JSON-lines file, in order of first appearance."""
    keys = {}
    for _, _, value in json_records(text, source):
        if isinstance(value, dict):
            for key in value:
                keys.setdefault(key, None)
    if len(keys) > MAX_COLUMNS:
        raise JobProblem(
            "VALIDATION",
            f"{source.name} has {_limit(len(keys))} distinct keys, more than {_limit(MAX_COLUMNS)}, "
            "the limit for one file: split its columns over several files",
            {"file": source.uri, "columns": len(keys), "limit": MAX_COLUMNS},
        )
    return list(keys)


def json_text(value):
    """A parsed JSON value as the text DuckDB's `->>` gives; None for null or missing."""
    if value is None:
        return None
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return value


def json_display(value):
    """A JSON value as shown in messages: its JSON text."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json_text(value)


def check_columns(sources, names_of, schema, ignore_extra):
    """Same columns in every file, every schema column present, no extra ones unless asked."""
    first = sources[0]
    first_names = names_of[0]
    for source, names in zip(sources[1:], names_of[1:]):
        if set(names) != set(first_names):
            raise JobProblem(
                "VALIDATION",
                f"{first.name} and {source.name} have different columns ({first.name}: {column_list(first_names)}; "
                f"{source.name}: {column_list(names)}): all files of one ingestion need the same columns; "
                "ingest them separately or fix the odd file",
                {"files": [first.uri, source.uri]},
            )
    present = set(first_names)
    for feature in schema["features"]:
        if feature["name"] not in present:
            only = first_names[0] if len(first_names) == 1 else ""
            delimiter = re.search(r"[;\t|]", only)
            hint = (
                f": the file seems to use {json.dumps(delimiter[0])} between values; write it with commas"
                if delimiter
                else ": add the column to the file or fix the schema"
            )
            raise JobProblem(
                "VALIDATION",
                f'{first.name} has no column "{feature["name"]}" (found: {column_list(first_names)}){hint}',
                {"file": first.uri, "column": feature["name"]},
            )
    if ignore_extra:
        return
    known = {feature["name"] for feature in schema["features"]}
    for name in first_names:
        if name not in known:
            raise JobProblem(
                "VALIDATION",
                f"{first.name} has column {shown_name(name)}, which the schema does not define: remove it "
                "from the file, add it to the schema, or set ignoreExtraColumns (--ignore-extra-columns "
                "on the command line)",
                {"file": first.uri, "column": name},
            )
