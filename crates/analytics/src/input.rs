//! Reading a transaction file: one purchase per row with a customer id, a date and an amount.
//!
//! * Columns are chosen by header name or by 1-based number ([`Column`]); a file without a
//!   header row needs numbers.
//! * The delimiter is one character (`,`, `;`, tab…, CSV quoting rules apply) or
//!   [`Delimiter::Whitespace`]: fields separated by runs of spaces and tabs, leading and trailing
//!   blanks ignored, no quoting (the format of the CDNOW data set).
//! * Dates use a chrono strftime format, `%Y-%m-%d` by default. Only the date counts: a value
//!   that carries a time after the date (`2024-03-01 18:30:00`, `2024-03-01T18:30:00+05:30`)
//!   is read by its date, and a format with time fields (`%d/%m/%Y %H:%M`) works too.
//! * Amounts are decimal numbers (`12`, `-3.5`, `1499.00`); surrounding blanks are ignored.
//! * Customer ids are strings, interned in order of first appearance to dense numbers
//!   `0, 1, 2…` ([`TransactionFile::customers`] maps them back).
//!
//! A bad row does not stop the reading: every bad field is reported with its line number
//! ([`RowError`]) and the row is skipped. Reading fails when more than
//! [`InputOptions::max_bad_share`] of the rows are bad, since the options are then most likely
//! wrong (a wrong column or date format).

use crate::summary::{day_from_date, Transaction};
use chrono::format::{parse_and_remainder, Parsed, StrftimeItems};
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::rc::Rc;
use std::str::FromStr;

/// A column, by header name or by 1-based number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Column {
    Name(String),
    /// 1-based.
    Number(usize),
}

impl FromStr for Column {
    type Err = String;

    /// A positive whole number is a column number, anything else a header name.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err("a column needs a header name or a number from 1".into());
        }
        if s.bytes().all(|b| b.is_ascii_digit()) {
            return match s.parse::<usize>() {
                Ok(n) if n >= 1 => Ok(Column::Number(n)),
                _ => Err(format!("column numbers start at 1, not {s}")),
            };
        }
        Ok(Column::Name(s.to_string()))
    }
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Column::Name(name) => write!(f, "`{name}`"),
            Column::Number(n) => write!(f, "{n}"),
        }
    }
}

/// How fields are separated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delimiter {
    /// One byte, with CSV quoting.
    Char(u8),
    /// Runs of spaces and tabs.
    Whitespace,
}

impl FromStr for Delimiter {
    type Err = String;

    /// `whitespace`, `tab` or `\t`, or a single ASCII character such as `,` or `;`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "whitespace" => Ok(Delimiter::Whitespace),
            "tab" | "\\t" | "\t" => Ok(Delimiter::Char(b'\t')),
            _ if s.len() == 1 && s.is_ascii() => Ok(Delimiter::Char(s.as_bytes()[0])),
            _ => Err(format!(
                "the delimiter must be one ASCII character, `tab` or `whitespace`, not `{s}`"
            )),
        }
    }
}

/// Which field of a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Customer,
    Date,
    Amount,
}

impl Field {
    pub fn name(self) -> &'static str {
        match self {
            Field::Customer => "customer",
            Field::Date => "date",
            Field::Amount => "amount",
        }
    }
}

/// How to read a transaction file.
#[derive(Clone, Debug, PartialEq)]
pub struct InputOptions {
    pub customer: Column,
    pub date: Column,
    pub amount: Column,
    /// chrono strftime format of the dates.
    pub date_format: String,
    pub delimiter: Delimiter,
    /// Whether the first row names the columns.
    pub has_header: bool,
    /// Fail when more than this share of the rows is bad (0.5 by default).
    pub max_bad_share: f64,
}

impl InputOptions {
    /// Columns by header name or number, `%Y-%m-%d` dates, commas, a header row.
    pub fn new(customer: Column, date: Column, amount: Column) -> Self {
        Self {
            customer,
            date,
            amount,
            date_format: DEFAULT_DATE_FORMAT.to_string(),
            delimiter: Delimiter::Char(b','),
            has_header: true,
            max_bad_share: 0.5,
        }
    }
}

pub const DEFAULT_DATE_FORMAT: &str = "%Y-%m-%d";

/// Errors kept in detail; further bad rows are only counted.
pub const MAX_REPORTED_ERRORS: usize = 10_000;

/// One bad field of one row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line of the file.
    pub line: u64,
    pub field: Field,
    /// The column as it was asked for.
    pub column: String,
    /// The field's text (empty when the row is too short).
    pub value: String,
    pub reason: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}: {} column {}: ",
            self.line,
            self.field.name(),
            self.column
        )?;
        if self.value.is_empty() {
            write!(f, "{}", self.reason)
        } else {
            write!(f, "`{}` {}", self.value, self.reason)
        }
    }
}

/// The transactions read from a file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TransactionFile {
    /// Good rows, in file order; `customer` indexes [`TransactionFile::customers`].
    pub transactions: Vec<Transaction>,
    /// Customer ids as written in the file, by interned number.
    pub customers: Vec<String>,
    /// Data rows read (header and blank lines not counted).
    pub rows: u64,
    /// Rows skipped because a field was bad.
    pub bad_rows: u64,
    /// The bad fields, in file order (the first [`MAX_REPORTED_ERRORS`]).
    pub errors: Vec<RowError>,
}

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("line {line}: {message}")]
    Csv { line: u64, message: String },
    #[error("the file is empty: no header row")]
    NoHeader,
    #[error("the {field} column {name} is not in the header (columns: {header})")]
    MissingColumn {
        field: &'static str,
        name: String,
        header: String,
    },
    #[error("the {field} column {number} does not exist: the header has {columns} columns")]
    ColumnOutOfRange {
        field: &'static str,
        number: usize,
        columns: usize,
    },
    #[error(
        "the {field} column is given by name ({name}) but the file has no header; give its number from 1"
    )]
    NameWithoutHeader { field: &'static str, name: String },
    #[error("invalid date format `{format}`: {reason}")]
    DateFormat { format: String, reason: String },
    #[error("{bad} of {rows} rows are bad, more than {percent}%: check the columns, the delimiter and the date format (first error: {first})", percent = (max_share * 100.0).round())]
    TooManyBadRows {
        bad: u64,
        rows: u64,
        max_share: f64,
        first: String,
        errors: Vec<RowError>,
    },
}

/// Reads a transaction file (see the module documentation).
pub fn read_transactions(path: &Path, options: &InputOptions) -> Result<TransactionFile, InputError> {
    let file = File::open(path).map_err(|source| InputError::Io {
        path: path.display().to_string(),
        source,
    })?;
    read_transactions_from(file, options).map_err(|e| match e {
        InputError::Io { source, .. } => InputError::Io {
            path: path.display().to_string(),
            source,
        },
        other => other,
    })
}

/// Reads transactions from any reader (see the module documentation).
pub fn read_transactions_from<R: Read>(
    reader: R,
    options: &InputOptions,
) -> Result<TransactionFile, InputError> {
    let dates = DateParser::new(&options.date_format)?;
    let file = match options.delimiter {
        Delimiter::Char(delimiter) => read_delimited(reader, delimiter, options, dates)?,
        Delimiter::Whitespace => read_whitespace(reader, options, dates)?,
    };
    if file.bad_rows > 0 && file.bad_rows as f64 > options.max_bad_share * file.rows as f64 {
        return Err(InputError::TooManyBadRows {
            bad: file.bad_rows,
            rows: file.rows,
            max_share: options.max_bad_share,
            first: file.errors.first().map(ToString::to_string).unwrap_or_default(),
            errors: file.errors,
        });
    }
    Ok(file)
}

fn io(source: std::io::Error) -> InputError {
    InputError::Io {
        path: String::new(),
        source,
    }
}

/// Line numbers for CSV records. The csv crate's own record lines skip blank lines and lag
/// after CRLF, so the reader below notes where every line terminator is, and a record's line is
/// 1 + the newlines before its first byte that is not a terminator.
#[derive(Default)]
struct Terminators {
    /// (byte offset, is `\n`) of the terminators not yet passed, in order.
    ahead: VecDeque<(u64, bool)>,
    newlines_before: u64,
}

impl Terminators {
    fn line_of(&mut self, record_start: u64) -> u64 {
        let mut start = record_start;
        while let Some(&(offset, newline)) = self.ahead.front() {
            if offset > start {
                break;
            }
            if offset == start {
                start += 1;
            }
            self.newlines_before += u64::from(newline);
            self.ahead.pop_front();
        }
        self.newlines_before + 1
    }
}

struct Tracked<R> {
    inner: R,
    offset: u64,
    terminators: Rc<RefCell<Terminators>>,
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut terminators = self.terminators.borrow_mut();
        for (i, &b) in buf[..n].iter().enumerate() {
            if b == b'\n' || b == b'\r' {
                terminators.ahead.push_back((self.offset + i as u64, b == b'\n'));
            }
        }
        self.offset += n as u64;
        Ok(n)
    }
}

fn read_delimited<R: Read>(
    reader: R,
    delimiter: u8,
    options: &InputOptions,
    dates: DateParser,
) -> Result<TransactionFile, InputError> {
    let terminators = Rc::new(RefCell::new(Terminators::default()));
    let tracked = Tracked {
        inner: reader,
        offset: 0,
        terminators: Rc::clone(&terminators),
    };
    let mut csv = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 16)
        .from_reader(tracked);
    let mut record = csv::ByteRecord::new();
    let line_of = |record: &csv::ByteRecord| {
        record
            .position()
            .map_or(0, |p| terminators.borrow_mut().line_of(p.byte()))
    };
    // Byte records are not checked for UTF-8 and rows may have any length: what remains is IO.
    let csv_error = |e: csv::Error| {
        let (line, message) = (e.position().map_or(0, |p| p.line()), e.to_string());
        match e.into_kind() {
            csv::ErrorKind::Io(source) => io(source),
            _ => InputError::Csv { line, message },
        }
    };
    let mut header: Option<Vec<String>> = None;
    if options.has_header {
        loop {
            if !csv.read_byte_record(&mut record).map_err(csv_error)? {
                return Err(InputError::NoHeader);
            }
            line_of(&record);
            if !is_blank(&record) {
                break;
            }
        }
        let mut names: Vec<String> = record
            .iter()
            .map(|f| String::from_utf8_lossy(f).trim().to_string())
            .collect();
        if let Some(first) = names.first_mut() {
            *first = first.trim_start_matches('\u{feff}').to_string();
        }
        header = Some(names);
    }
    let mut builder = Builder::new(options, header.as_deref(), dates)?;
    while csv.read_byte_record(&mut record).map_err(csv_error)? {
        let line = line_of(&record);
        if is_blank(&record) {
            continue;
        }
        builder.row(line, |i| record.get(i));
    }
    Ok(builder.finish())
}

fn is_blank(record: &csv::ByteRecord) -> bool {
    record.iter().all(|f| f.iter().all(|b| b.is_ascii_whitespace()))
}

fn read_whitespace<R: Read>(
    reader: R,
    options: &InputOptions,
    dates: DateParser,
) -> Result<TransactionFile, InputError> {
    let mut reader = BufReader::with_capacity(1 << 16, reader);
    let mut buffer = Vec::with_capacity(256);
    let mut fields: Vec<(usize, usize)> = Vec::with_capacity(8);
    let mut line = 0u64;
    let split = |buffer: &[u8], fields: &mut Vec<(usize, usize)>| {
        fields.clear();
        let mut start = None;
        for (i, &b) in buffer.iter().enumerate() {
            let blank = matches!(b, b' ' | b'\t' | b'\r' | b'\n');
            match (blank, start) {
                (true, Some(s)) => {
                    fields.push((s, i));
                    start = None;
                }
                (false, None) => start = Some(i),
                _ => {}
            }
        }
        if let Some(s) = start {
            fields.push((s, buffer.len()));
        }
    };
    let mut header = None;
    if options.has_header {
        loop {
            buffer.clear();
            if reader.read_until(b'\n', &mut buffer).map_err(io)? == 0 {
                return Err(InputError::NoHeader);
            }
            line += 1;
            if line == 1 && buffer.starts_with("\u{feff}".as_bytes()) {
                buffer.drain(..3);
            }
            split(&buffer, &mut fields);
            if !fields.is_empty() {
                break;
            }
        }
        header = Some(
            fields
                .iter()
                .map(|&(s, e)| String::from_utf8_lossy(&buffer[s..e]).into_owned())
                .collect::<Vec<_>>(),
        );
    }
    let mut builder = Builder::new(options, header.as_deref(), dates)?;
    loop {
        buffer.clear();
        if reader.read_until(b'\n', &mut buffer).map_err(io)? == 0 {
            break;
        }
        line += 1;
        if line == 1 && buffer.starts_with("\u{feff}".as_bytes()) {
            buffer.drain(..3);
        }
        split(&buffer, &mut fields);
        if fields.is_empty() {
            continue;
        }
        builder.row(line, |i| fields.get(i).map(|&(s, e)| &buffer[s..e]));
    }
    Ok(builder.finish())
}

/// A multiplicative hash (as FxHash) with a final mix: fast for interning ids from a file.
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
            self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    /// Mixes the high bits into the low ones (murmur3's finaliser): the table indexes by the low
    /// bits, which a multiplicative hash leaves depending on the first bytes only.
    #[inline]
    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

struct Builder {
    columns: [(Field, String, usize); 3],
    dates: DateParser,
    /// Ids of up to 15 bytes, packed into the key itself (no pointer to follow on lookups).
    short_ids: HashMap<u128, u64, BuildHasherDefault<FxHasher>>,
    /// The previous short id and its number (key 0 is no id: every key has a length byte ≥ 1).
    last_short: (u128, u64),
    ids: HashMap<Box<str>, u64, BuildHasherDefault<FxHasher>>,
    file: TransactionFile,
}

impl Builder {
    fn new(options: &InputOptions, header: Option<&[String]>, dates: DateParser) -> Result<Self, InputError> {
        let resolve = |field: Field, column: &Column| -> Result<(Field, String, usize), InputError> {
            let index = match (column, header) {
                (Column::Number(n), Some(names)) if *n > names.len() => {
                    return Err(InputError::ColumnOutOfRange {
                        field: field.name(),
                        number: *n,
                        columns: names.len(),
                    })
                }
                (Column::Number(n), _) => n - 1,
                (Column::Name(_), None) => {
                    return Err(InputError::NameWithoutHeader {
                        field: field.name(),
                        name: column.to_string(),
                    })
                }
                (Column::Name(name), Some(names)) => names
                    .iter()
                    .position(|h| h == name)
                    .or_else(|| names.iter().position(|h| h.eq_ignore_ascii_case(name)))
                    .ok_or_else(|| InputError::MissingColumn {
                        field: field.name(),
                        name: column.to_string(),
                        header: names
                            .iter()
                            .map(|h| format!("`{h}`"))
                            .collect::<Vec<_>>()
                            .join(", "),
                    })?,
            };
            Ok((field, column.to_string(), index))
        };
        Ok(Self {
            columns: [
                resolve(Field::Customer, &options.customer)?,
                resolve(Field::Date, &options.date)?,
                resolve(Field::Amount, &options.amount)?,
            ],
            dates,
            short_ids: HashMap::default(),
            last_short: (0, 0),
            ids: HashMap::default(),
            file: TransactionFile::default(),
        })
    }

    #[inline]
    fn row<'r>(&mut self, line: u64, get: impl Fn(usize) -> Option<&'r [u8]>) {
        self.file.rows += 1;
        let mut bad = false;
        let (mut customer, mut day, mut amount) = (None, None, None);
        for (field, column, index) in &self.columns {
            let mut fail = |value: &[u8], reason: String| {
                bad = true;
                Self::report(&mut self.file, line, *field, column, value, reason);
            };
            let Some(raw) = get(*index) else {
                fail(b"", "is missing: the row has too few fields".into());
                continue;
            };
            let Ok(value) = std::str::from_utf8(raw).map(str::trim) else {
                fail(raw, "is not UTF-8 text".into());
                continue;
            };
            if value.is_empty() {
                fail(b"", "is empty".into());
                continue;
            }
            match field {
                Field::Customer => customer = Some(value),
                Field::Date => match self.dates.parse(value) {
                    Some(d) => day = Some(d),
                    None => fail(
                        value.as_bytes(),
                        format!("is not a date in the format {}", self.dates.format),
                    ),
                },
                Field::Amount => match parse_amount(value) {
                    Some(a) => amount = Some(a),
                    None => fail(value.as_bytes(), "is not a decimal number".into()),
                },
            }
        }
        match (customer, day, amount) {
            (Some(id), Some(day), Some(amount)) if !bad => {
                let next = self.file.customers.len() as u64;
                let customer = match short_key(id) {
                    // Files grouped by customer repeat the previous id: skip the table.
                    Some(key) if self.last_short.0 == key => self.last_short.1,
                    Some(key) => {
                        let n = *self.short_ids.entry(key).or_insert(next);
                        self.last_short = (key, n);
                        n
                    }
                    None => match self.ids.get(id) {
                        Some(&n) => n,
                        None => {
                            self.ids.insert(id.into(), next);
                            next
                        }
                    },
                };
                if customer == next {
                    self.file.customers.push(id.to_string());
                }
                self.file.transactions.push(Transaction {
                    customer,
                    day,
                    amount,
                });
            }
            _ => self.file.bad_rows += 1,
        }
    }

    fn report(
        file: &mut TransactionFile,
        line: u64,
        field: Field,
        column: &str,
        value: &[u8],
        reason: String,
    ) {
        if file.errors.len() < MAX_REPORTED_ERRORS {
            file.errors.push(RowError {
                line,
                field,
                column: column.to_string(),
                value: String::from_utf8_lossy(value).into_owned(),
                reason,
            });
        }
    }

    fn finish(self) -> TransactionFile {
        self.file
    }
}

/// An id of up to 15 bytes as a number: its bytes, then its length in the last byte.
#[inline]
fn short_key(id: &str) -> Option<u128> {
    let bytes = id.as_bytes();
    if bytes.len() > 15 {
        return None;
    }
    let mut key = [0u8; 16];
    key[..bytes.len()].copy_from_slice(bytes);
    key[15] = bytes.len() as u8;
    Some(u128::from_le_bytes(key))
}

/// A decimal number: digits with an optional sign and decimal point (`1e3`, `inf`, `NaN` and
/// thousands separators are refused).
fn parse_amount(value: &str) -> Option<f64> {
    let digits = value.strip_prefix(['-', '+']).unwrap_or(value);
    let mut seen_digit = false;
    let mut seen_point = false;
    for b in digits.bytes() {
        match b {
            b'0'..=b'9' => seen_digit = true,
            b'.' if !seen_point => seen_point = true,
            _ => return None,
        }
    }
    if !seen_digit {
        return None;
    }
    value.parse::<f64>().ok().filter(|a| a.is_finite())
}

enum DateKind {
    /// `%Y-%m-%d`, parsed by hand.
    Iso,
    /// `%Y%m%d`, parsed by hand.
    Compact,
    Chrono,
}

struct DateParser {
    format: String,
    kind: DateKind,
    items: Vec<chrono::format::Item<'static>>,
}

impl DateParser {
    fn new(format: &str) -> Result<Self, InputError> {
        let items: Vec<chrono::format::Item<'static>> =
            StrftimeItems::new(format)
                .parse_to_owned()
                .map_err(|e| InputError::DateFormat {
                    format: format.to_string(),
                    reason: e.to_string(),
                })?;
        if items.is_empty() {
            return Err(InputError::DateFormat {
                format: format.to_string(),
                reason: "it is empty".into(),
            });
        }
        let kind = match format {
            "%Y-%m-%d" => DateKind::Iso,
            "%Y%m%d" => DateKind::Compact,
            _ => DateKind::Chrono,
        };
        Ok(Self {
            format: format.to_string(),
            kind,
            items,
        })
    }

    /// The day of a date text, ignoring a time that follows it (after a space or a `T`).
    fn parse(&self, value: &str) -> Option<i32> {
        let bytes = value.as_bytes();
        let digits = |range: std::ops::Range<usize>| -> Option<u32> {
            let mut n = 0u32;
            for &b in bytes.get(range)? {
                if !b.is_ascii_digit() {
                    return None;
                }
                n = n * 10 + u32::from(b - b'0');
            }
            Some(n)
        };
        let time_follows = |at: usize| bytes.len() == at || matches!(bytes[at], b' ' | b'T' | b't');
        match self.kind {
            DateKind::Iso
                if bytes.len() >= 10 && bytes[4] == b'-' && bytes[7] == b'-' && time_follows(10) =>
            {
                day_from_date(digits(0..4)? as i32, digits(5..7)?, digits(8..10)?)
            }
            DateKind::Compact if bytes.len() >= 8 && time_follows(8) => {
                day_from_date(digits(0..4)? as i32, digits(4..6)?, digits(6..8)?)
            }
            DateKind::Iso | DateKind::Compact => None,
            DateKind::Chrono => {
                let mut parsed = Parsed::new();
                let rest = parse_and_remainder(&mut parsed, value, self.items.iter()).ok()?;
                if !(rest.is_empty() || rest.starts_with([' ', 'T', 't'])) {
                    return None;
                }
                let date = parsed.to_naive_date().ok()?;
                use chrono::Datelike;
                day_from_date(date.year(), date.month(), date.day())
            }
        }
    }
}
