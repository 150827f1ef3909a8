//! What to import and how, checked before a row is read: a bad option names the option and
//! nothing is written.

use std::io::{BufRead, BufReader, Read};

use regulars_domain::{Currency, FieldError};
use regulars_ingest::csv::{ColumnRef, Delimiter, TransactionOptions, TransactionsReader};
use regulars_store::StoreRecord;
use serde::{Deserialize, Serialize};

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Shopify's customer export, every header generation.
    ShopifyCustomers,
    /// Shopify's orders export: one order over consecutive rows with the same `Name`.
    ShopifyOrders,
    /// Any transaction log: a customer, a date and an amount per row.
    Transactions,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::ShopifyCustomers, Kind::ShopifyOrders, Kind::Transactions];

    /// The stable name stored with an import and used in forms.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ShopifyCustomers => "shopify_customers",
            Kind::ShopifyOrders => "shopify_orders",
            Kind::Transactions => "transactions",
        }
    }

    /// `shopify_customers` or `shopify-customers` (and so on).
    pub fn parse(s: &str) -> Option<Kind> {
        let wanted = s.trim().replace('-', "_");
        Kind::ALL.into_iter().find(|k| k.as_str() == wanted)
    }

    /// The `kind` of the summary, as `regulars import` has always printed it.
    pub(crate) fn summary_kind(self) -> &'static str {
        match self {
            Kind::ShopifyCustomers => "customers",
            Kind::ShopifyOrders => "shopify_orders",
            Kind::Transactions => "transactions",
        }
    }
}

/// A transaction log's options as a person gives them (flags or a form). Blank values count
/// as not given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionSettings {
    /// The customer column: a header name or a 0-based number.
    pub customer_col: Option<String>,
    pub date_col: Option<String>,
    /// Decimal amounts in major units.
    pub amount_col: Option<String>,
    /// Without it each row is an order of its own, with an id derived from its content.
    pub order_col: Option<String>,
    /// ISO 4217; default: the store's currency.
    pub currency: Option<String>,
    /// strftime, e.g. `%Y%m%d`; default: ISO dates and the usual date-time forms.
    pub date_format: Option<String>,
    /// One character, `tab` or `whitespace`; default `,`.
    pub delimiter: Option<String>,
    /// The file has no header row: columns are given by number.
    pub no_header: bool,
}

/// The option a problem is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OptionField {
    CustomerCol,
    DateCol,
    AmountCol,
    OrderCol,
    Currency,
    DateFormat,
    Delimiter,
    /// The file itself (its header row).
    File,
}

impl OptionField {
    /// The option's name in forms: `customer_col`.
    pub fn name(self) -> &'static str {
        match self {
            OptionField::CustomerCol => "customer_col",
            OptionField::DateCol => "date_col",
            OptionField::AmountCol => "amount_col",
            OptionField::OrderCol => "order_col",
            OptionField::Currency => "currency",
            OptionField::DateFormat => "date_format",
            OptionField::Delimiter => "delimiter",
            OptionField::File => "file",
        }
    }

    /// The option's flag on the command line: `--customer-col`.
    pub fn flag(self) -> &'static str {
        match self {
            OptionField::CustomerCol => "--customer-col",
            OptionField::DateCol => "--date-col",
            OptionField::AmountCol => "--amount-col",
            OptionField::OrderCol => "--order-col",
            OptionField::Currency => "--currency",
            OptionField::DateFormat => "--date-format",
            OptionField::Delimiter => "--delimiter",
            OptionField::File => "FILE",
        }
    }
}

/// An option that cannot work. Nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct OptionError {
    pub field: OptionField,
    /// Stable: `missing_column`, `unknown_column`, `named_without_header`, `invalid_delimiter`,
    /// `invalid_currency`, `empty_file` or `invalid_header`.
    pub code: &'static str,
    /// What was given, when something was.
    pub value: Option<String>,
    /// In English, naming the command-line flag.
    pub message: String,
}

fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// What to import and how, every option checked.
#[derive(Debug, Clone)]
pub struct Plan {
    pub(crate) reading: Reading,
    pub(crate) keep_rejections: usize,
    /// Whether orders placed before the loyalty program began earn points.
    pub(crate) credit_points: bool,
}

/// How the file is read.
#[derive(Debug, Clone)]
pub(crate) enum Reading {
    ShopifyCustomers,
    ShopifyOrders,
    /// With the currency of the amounts.
    Transactions(TransactionOptions, Currency),
}

impl Plan {
    /// Checks the options for `kind` (the transaction settings matter only for transaction logs).
    pub fn new(kind: Kind, settings: &TransactionSettings, store: &StoreRecord) -> Result<Plan, OptionError> {
        let reading = match kind {
            Kind::ShopifyCustomers => Reading::ShopifyCustomers,
            Kind::ShopifyOrders => Reading::ShopifyOrders,
            Kind::Transactions => {
                let (options, currency) = transaction_options(settings, store)?;
                Reading::Transactions(options, currency)
            }
        };
        Ok(Plan {
            reading,
            keep_rejections: usize::MAX,
            credit_points: false,
        })
    }

    /// Credits loyalty points for the file's orders even when they were placed before the
    /// program began (orders placed since always earn).
    pub fn credit_points(mut self, credit: bool) -> Plan {
        self.credit_points = credit;
        self
    }

    /// Keeps at most `n` rejections in the summary (all are still counted).
    pub fn keep_rejections(mut self, n: usize) -> Plan {
        self.keep_rejections = n;
        self
    }

    pub fn kind(&self) -> Kind {
        match self.reading {
            Reading::ShopifyCustomers => Kind::ShopifyCustomers,
            Reading::ShopifyOrders => Kind::ShopifyOrders,
            Reading::Transactions(..) => Kind::Transactions,
        }
    }

    fn transactions(&self) -> Option<&TransactionOptions> {
        match &self.reading {
            Reading::Transactions(options, _) => Some(options),
            Reading::ShopifyCustomers | Reading::ShopifyOrders => None,
        }
    }

    /// Reads the start of the file to check what can only be checked there: that every named
    /// column is in the header. Reads no further than the header.
    pub fn check<R: Read>(&self, input: R) -> Result<(), OptionError> {
        match self.transactions() {
            Some(options) => TransactionsReader::new(input, options.clone())
                .map(|_| ())
                .map_err(|e| self.reader_error(e)),
            None => Ok(()),
        }
    }

    /// The header row's column names as a transaction log is read (empty without a header), to
    /// show someone who named a column that is not there.
    pub fn header_names<R: Read>(&self, input: R) -> Vec<String> {
        let Some(options) = self.transactions() else {
            return Vec::new();
        };
        if !options.has_header {
            return Vec::new();
        }
        let clean = |s: &str| s.trim().trim_start_matches('\u{feff}').to_string();
        match options.delimiter {
            Delimiter::Whitespace => BufReader::new(input)
                .lines()
                .map_while(Result::ok)
                .find(|l| !l.trim().is_empty())
                .map(|l| l.split_whitespace().map(clean).collect())
                .unwrap_or_default(),
            Delimiter::Byte(b) => {
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(false)
                    .flexible(true)
                    .delimiter(b)
                    .from_reader(input);
                let mut record = csv::StringRecord::new();
                while let Ok(true) = reader.read_record(&mut record) {
                    if record.iter().any(|f| !f.trim().is_empty()) {
                        return record.iter().map(clean).collect();
                    }
                }
                Vec::new()
            }
        }
    }

    /// A refusal of the transaction reader (a column not in the header, an empty file) as an
    /// option error.
    pub(crate) fn reader_error(&self, e: FieldError) -> OptionError {
        let options = self.transactions();
        let column = |field: OptionField| -> Option<&ColumnRef> {
            let o = options?;
            match field {
                OptionField::CustomerCol => Some(&o.customer_col),
                OptionField::DateCol => Some(&o.date_col),
                OptionField::AmountCol => Some(&o.amount_col),
                OptionField::OrderCol => o.order_col.as_ref(),
                _ => None,
            }
        };
        let field = match e.field.as_str() {
            "customer-col" => OptionField::CustomerCol,
            "date-col" => OptionField::DateCol,
            "amount-col" => OptionField::AmountCol,
            "order-col" => OptionField::OrderCol,
            _ => OptionField::File,
        };
        let code = match e.code {
            "unknown_column" if options.is_some_and(|o| !o.has_header) => "named_without_header",
            code => code,
        };
        OptionError {
            field,
            code,
            value: column(field).map(|c| match c {
                ColumnRef::Name(n) => n.clone(),
                ColumnRef::Index(i) => i.to_string(),
            }),
            message: e.to_string(),
        }
    }
}

fn column(field: OptionField, value: &Option<String>) -> Result<ColumnRef, OptionError> {
    given(value).map(ColumnRef::parse).ok_or_else(|| OptionError {
        field,
        code: "missing_column",
        value: None,
        message: format!(
            "transactions need {} (a header name or a 0-based column number)",
            field.flag()
        ),
    })
}

fn transaction_options(
    settings: &TransactionSettings,
    store: &StoreRecord,
) -> Result<(TransactionOptions, Currency), OptionError> {
    let delimiter = match given(&settings.delimiter).unwrap_or(",") {
        "whitespace" | "space" | "\\s" => Delimiter::Whitespace,
        "\\t" | "tab" => Delimiter::Byte(b'\t'),
        d if d.len() == 1 => Delimiter::Byte(d.as_bytes()[0]),
        d => {
            return Err(OptionError {
                field: OptionField::Delimiter,
                code: "invalid_delimiter",
                value: Some(d.to_string()),
                message: format!("--delimiter {d:?}: give one character, `tab` or `whitespace`"),
            })
        }
    };
    let customer_col = column(OptionField::CustomerCol, &settings.customer_col)?;
    let date_col = column(OptionField::DateCol, &settings.date_col)?;
    let amount_col = column(OptionField::AmountCol, &settings.amount_col)?;
    let currency = match given(&settings.currency) {
        Some(c) => Currency::parse(c).map_err(|e| OptionError {
            field: OptionField::Currency,
            code: "invalid_currency",
            value: Some(c.to_string()),
            message: format!("--currency: {}", e.message),
        })?,
        None => store.currency,
    };
    let options = TransactionOptions {
        customer_col,
        date_col,
        amount_col,
        order_col: given(&settings.order_col).map(ColumnRef::parse),
        currency,
        date_format: given(&settings.date_format).map(str::to_string),
        delimiter,
        has_header: !settings.no_header,
        zone: store.timezone.0,
    };
    Ok((options, currency))
}
