//! Streaming CSV readers: Shopify customer and order exports, and any transaction log. Each is
//! an iterator that holds one record (one order's rows for the orders export) at a time, so
//! memory stays flat whatever the file's size. A bad row becomes a [`RowError`] naming its
//! line, and reading goes on; a file cut off inside a quoted field is reported as truncated.

use std::cell::Cell;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::rc::Rc;

use chrono::{NaiveDate, NaiveDateTime};
use regulars_domain::{
    split_tags, ConsentChange, ConsentChannel, Currency, CustomerInput, Email, FieldError, FinancialStatus,
    LineItemInput, Money, OrderInput, OrderSignals, Phone, RefundInput, Source, Timestamp,
};
use sha2::{Digest, Sha256};

/// A value read from the row that starts at `line` (1-based; the header is line 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed<T> {
    pub line: u64,
    pub value: T,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: u64,
    pub field: Option<String>,
    pub reason: String,
}

impl RowError {
    fn new(line: u64, field: Option<&str>, reason: impl Into<String>) -> Self {
        RowError {
            line,
            field: field.map(str::to_string),
            reason: reason.into(),
        }
    }

    fn from_field(line: u64, e: FieldError) -> Self {
        let field = (!e.field.is_empty()).then(|| e.field.clone());
        RowError {
            line,
            field,
            reason: e.to_string(),
        }
    }
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// Counts `"` bytes as the CSV parser reads them: escaped quotes come in pairs, so an odd total
/// at the end of the file means it ends inside a quoted field.
struct QuoteCounter<R> {
    inner: R,
    quotes: Rc<Cell<u64>>,
}

impl<R: Read> Read for QuoteCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let q = buf[..n].iter().filter(|b| **b == b'"').count() as u64;
        self.quotes.set(self.quotes.get() + q);
        Ok(n)
    }
}

/// Records with their starting line, checked for width and for truncation.
struct Records<R: Read> {
    reader: csv::Reader<QuoteCounter<R>>,
    quotes: Rc<Cell<u64>>,
    width: Option<usize>,
    next: Option<Result<(u64, csv::StringRecord), RowError>>,
    done: bool,
}

impl<R: Read> Records<R> {
    fn new(input: R, delimiter: u8) -> Self {
        let quotes = Rc::new(Cell::new(0));
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .from_reader(QuoteCounter {
                inner: input,
                quotes: quotes.clone(),
            });
        let mut records = Records {
            reader,
            quotes,
            width: None,
            next: None,
            done: false,
        };
        records.next = records.read_one();
        records
    }

    fn read_one(&mut self) -> Option<Result<(u64, csv::StringRecord), RowError>> {
        let mut record = csv::StringRecord::new();
        loop {
            let line = self.reader.position().line();
            return match self.reader.read_record(&mut record) {
                Ok(true) if record.iter().all(|f| f.trim().is_empty()) => continue,
                Ok(true) => {
                    let start = record.position().map_or(line, |p| p.line());
                    Some(Ok((start, record)))
                }
                Ok(false) => None,
                Err(e) => {
                    let line = e.position().map_or(line, |p| p.line());
                    let reason = match e.kind() {
                        csv::ErrorKind::Utf8 { .. } => {
                            "the row is not valid UTF-8 (save the file as UTF-8)".to_string()
                        }
                        _ => format!("unreadable row: {e}"),
                    };
                    Some(Err(RowError::new(line, None, reason)))
                }
            };
        }
    }
}

impl<R: Read> Iterator for Records<R> {
    type Item = Result<(u64, csv::StringRecord), RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let current = self.next.take()?;
        self.next = self.read_one();
        let Ok((line, record)) = current else {
            return Some(current);
        };
        if self.next.is_none() && self.quotes.get() % 2 == 1 {
            self.done = true;
            return Some(Err(RowError::new(
                line,
                None,
                "the file ends inside a quoted field: it looks truncated (cut off mid-record); this row was not imported",
            )));
        }
        match self.width {
            None => self.width = Some(record.len()),
            Some(w) if w != record.len() => {
                return Some(Err(RowError::new(
                    line,
                    None,
                    format!("expected {w} fields like the header, found {}", record.len()),
                )))
            }
            Some(_) => {}
        }
        Some(Ok((line, record)))
    }
}

/// Column positions by lower-cased header name.
struct Header {
    names: Vec<String>,
    index: HashMap<String, usize>,
}

impl Header {
    fn new(record: &csv::StringRecord) -> Self {
        let names: Vec<String> = record
            .iter()
            .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
            .collect();
        let index = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.to_lowercase(), i))
            .collect();
        Header { names, index }
    }

    fn find(&self, candidates: &[&str]) -> Option<usize> {
        candidates.iter().find_map(|c| self.index.get(*c).copied())
    }
}

/// A cell by any of its header names, trimmed, with Shopify's leading `'` removed; `None` when
/// empty.
fn cell(record: &csv::StringRecord, at: Option<usize>) -> Option<&str> {
    let v = record.get(at?)?.trim();
    let v = v.strip_prefix('\'').unwrap_or(v).trim();
    (!v.is_empty()).then_some(v)
}

fn yes(v: Option<&str>) -> Option<bool> {
    match v?.to_ascii_lowercase().as_str() {
        "yes" | "true" | "1" | "y" => Some(true),
        "no" | "false" | "0" | "n" => Some(false),
        _ => None,
    }
}

/// Shopify customer exports, every header generation (current, 2022-23, legacy, the import
/// template) and extra trailing columns, which become attributes.
pub struct ShopifyCustomersReader<R: Read> {
    records: Records<R>,
    header: Option<Header>,
    currency: Currency,
    known: Vec<usize>,
}

const CUSTOMER_COLUMNS: &[&[&str]] = &[
    &["customer id"],
    &["first name"],
    &["last name"],
    &["email"],
    &["accepts email marketing", "accepts marketing"],
    &["accepts sms marketing"],
    &["accepts whatsapp marketing"],
    &["phone"],
    &["default address phone"],
    &["default address company", "company"],
    &["default address address1", "address1"],
    &["default address address2", "address2"],
    &["default address city", "city"],
    &["default address province code", "province code"],
    &["province"],
    &["default address country code", "country code"],
    &["country"],
    &["default address zip", "zip"],
    &["total spent"],
    &["total orders"],
    &["note"],
    &["tax exempt"],
    &["tags"],
];

impl<R: Read> ShopifyCustomersReader<R> {
    pub fn new(input: R, currency: Currency) -> Self {
        ShopifyCustomersReader {
            records: Records::new(input, b','),
            header: None,
            currency,
            known: vec![],
        }
    }

    fn customer(&self, h: &Header, line: u64, r: &csv::StringRecord) -> Result<CustomerInput, RowError> {
        let col = |names: &[&str]| cell(r, h.find(names));
        let email = Email::parse_optional(col(&["email"]).unwrap_or_default())
            .map_err(|e| RowError::from_field(line, e.at("Email")))?;
        let phone = match col(&["phone"]).or(col(&["default address phone"])) {
            Some(p) => Some(Phone::parse(p).map_err(|e| RowError::from_field(line, e.at("Phone")))?),
            None => None,
        };
        let external_id = col(&["customer id"]).map(str::to_string);
        if external_id.is_none() && email.is_none() && phone.is_none() {
            return Err(RowError::new(
                line,
                None,
                "the row has no Customer ID, Email or Phone to know the customer by",
            ));
        }
        let mut consents = Vec::new();
        for (names, channel) in [
            (
                &["accepts email marketing", "accepts marketing"][..],
                ConsentChannel::Email,
            ),
            (&["accepts sms marketing"][..], ConsentChannel::Sms),
            (&["accepts whatsapp marketing"][..], ConsentChannel::Whatsapp),
        ] {
            if let Some(granted) = yes(col(names)) {
                consents.push(ConsentChange::new(channel, granted, "shopify_csv"));
            }
        }
        let mut attributes = std::collections::BTreeMap::new();
        let address: serde_json::Map<String, serde_json::Value> = [
            ("company", &["default address company", "company"][..]),
            ("address1", &["default address address1", "address1"]),
            ("address2", &["default address address2", "address2"]),
            ("city", &["default address city", "city"]),
            (
                "province",
                &["default address province code", "province code", "province"],
            ),
            (
                "country",
                &["default address country code", "country code", "country"],
            ),
            ("zip", &["default address zip", "zip"]),
        ]
        .into_iter()
        .filter_map(|(k, names)| col(names).map(|v| (k.to_string(), serde_json::Value::from(v))))
        .collect();
        if !address.is_empty() {
            attributes.insert("default_address".to_string(), serde_json::Value::Object(address));
        }
        if let Some(spent) = col(&["total spent"]) {
            let minor = Money::parse_major(spent, self.currency)
                .map_err(|e| RowError::from_field(line, e.at("Total Spent")))?;
            attributes.insert("shopify_total_spent".into(), minor.minor.into());
        }
        if let Some(orders) = col(&["total orders"]) {
            let n: i64 = orders.parse().map_err(|_| {
                RowError::new(
                    line,
                    Some("Total Orders"),
                    format!("{orders:?} is not a whole number"),
                )
            })?;
            attributes.insert("shopify_total_orders".into(), n.into());
        }
        if let Some(exempt) = yes(col(&["tax exempt"])) {
            attributes.insert("tax_exempt".into(), exempt.into());
        }
        for (i, name) in h.names.iter().enumerate() {
            if !self.known.contains(&i) {
                if let Some(v) = cell(r, Some(i)) {
                    attributes.insert(name.clone(), v.into());
                }
            }
        }
        let mut c = CustomerInput {
            source: Some(Source::Shopify),
            external_id,
            email,
            phone,
            first_name: col(&["first name"]).map(str::to_string),
            last_name: col(&["last name"]).map(str::to_string),
            tags: Some(split_tags(col(&["tags"]).unwrap_or_default())),
            attributes,
            note: col(&["note"]).map(str::to_string),
            consents,
            ..Default::default()
        };
        c.normalise();
        Ok(c)
    }
}

impl<R: Read> Iterator for ShopifyCustomersReader<R> {
    type Item = Result<Parsed<CustomerInput>, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (line, record) = match self.records.next()? {
                Ok(r) => r,
                Err(e) => return Some(Err(e)),
            };
            let Some(header) = &self.header else {
                let header = Header::new(&record);
                if header.find(&["email"]).is_none() {
                    return Some(Err(RowError::new(
                        line,
                        None,
                        "this is not a Shopify customer export: no Email column",
                    )));
                }
                self.known = CUSTOMER_COLUMNS
                    .iter()
                    .filter_map(|names| header.find(names))
                    .collect();
                self.header = Some(header);
                continue;
            };
            return Some(
                self.customer(header, line, &record)
                    .map(|value| Parsed { line, value }),
            );
        }
    }
}

/// Shopify's orders export: one order over consecutive rows with the same `Name`, the first
/// carrying the totals and later ones only line items.
pub struct ShopifyOrdersReader<R: Read> {
    records: Records<R>,
    header: Option<Header>,
    zone: chrono_tz::Tz,
    /// The order being assembled: its name, first line, and the order or the first error in it.
    current: Option<(String, u64, Result<OrderInput, RowError>)>,
}

impl<R: Read> ShopifyOrdersReader<R> {
    pub fn new(input: R, zone: chrono_tz::Tz) -> Self {
        ShopifyOrdersReader {
            records: Records::new(input, b','),
            header: None,
            zone,
            current: None,
        }
    }

    fn first_row(&self, h: &Header, line: u64, r: &csv::StringRecord) -> Result<OrderInput, RowError> {
        let col = |name: &str| cell(r, h.find(&[name]));
        let err = |field: &'static str| move |e: FieldError| RowError::from_field(line, e.at(field));
        let currency = Currency::parse(col("currency").unwrap_or_default()).map_err(err("Currency"))?;
        let amount = |field: &'static str| -> Result<i64, RowError> {
            match col(&field.to_lowercase()) {
                Some(v) => Money::parse_major(&v.replace(',', ""), currency)
                    .map(|m| m.minor)
                    .map_err(err(field)),
                None => Ok(0),
            }
        };
        let time = |field: &'static str| -> Result<Option<Timestamp>, RowError> {
            col(&field.to_lowercase())
                .map(|v| Timestamp::parse_flexible(v, self.zone).map_err(err(field)))
                .transpose()
        };
        let name = col("name").unwrap_or_default().to_string();
        let placed_at = time("Created at")?
            .ok_or_else(|| RowError::new(line, Some("Created at"), "the order has no Created at"))?;
        let cancelled_at = time("Cancelled at")?;
        let status = col("financial status").unwrap_or("pending");
        let financial_status = FinancialStatus::parse(status).map_err(err("Financial Status"))?;
        let refunded = amount("Refunded Amount")?;
        let email = Email::parse_optional(col("email").unwrap_or_default()).map_err(err("Email"))?;
        let phone = Phone::parse_optional(col("phone").unwrap_or_default()).map_err(err("Phone"))?;
        let customer = (email.is_some() || phone.is_some()).then(|| {
            let billing = col("billing name").unwrap_or_default();
            let (first, last) = billing.split_once(' ').unwrap_or((billing, ""));
            let mut c = CustomerInput {
                source: Some(Source::Shopify),
                email: email.clone(),
                phone: phone.clone(),
                first_name: Some(first.to_string()),
                last_name: Some(last.to_string()),
                consents: yes(col("accepts marketing"))
                    .map(|g| vec![ConsentChange::new(ConsentChannel::Email, g, "shopify_csv")])
                    .unwrap_or_default(),
                ..Default::default()
            };
            c.normalise();
            c
        });
        let mut order = OrderInput {
            source: Source::Shopify,
            external_id: col("id").unwrap_or(&name).to_string(),
            order_number: Some(name.clone()).filter(|n| !n.is_empty()),
            customer,
            placed_at,
            source_updated_at: None,
            currency,
            subtotal: amount("Subtotal")?,
            discount_total: amount("Discount Amount")?,
            shipping_total: amount("Shipping")?,
            tax_total: amount("Taxes")?,
            total: amount("Total")?,
            financial_status,
            cancelled_at,
            line_items: vec![],
            discount_codes: col("discount code")
                .map(|c| vec![c.to_string()])
                .unwrap_or_default(),
            refunds: vec![],
            marketplace: col("source").map(str::to_lowercase).filter(|s| {
                ["amazon", "ebay", "etsy", "walmart", "flipkart"]
                    .iter()
                    .any(|m| s.contains(m))
            }),
            buyer_accepts_marketing: yes(col("accepts marketing")),
            note: col("notes").map(str::to_string),
            signals: OrderSignals {
                // The export tells nothing else of the order's origin that identifies the buyer.
                shipping_address: ["shipping", "billing"].iter().find_map(|side| {
                    crate::signals::address(
                        col(&format!("{side} address1")).or_else(|| col(&format!("{side} street"))),
                        col(&format!("{side} zip")),
                        col(&format!("{side} country")),
                    )
                }),
                ..OrderSignals::default()
            },
        };
        if refunded > 0 {
            order.refunds.push(RefundInput {
                external_id: format!("{name}-refund"),
                created_at: cancelled_at.unwrap_or(placed_at),
                amount: refunded,
                reason: None,
                lines: vec![],
            });
        }
        Ok(order)
    }

    fn add_line(
        &self,
        h: &Header,
        line: u64,
        r: &csv::StringRecord,
        order: &mut OrderInput,
    ) -> Result<(), RowError> {
        let col = |name: &str| cell(r, h.find(&[name]));
        let Some(title) = col("lineitem name") else {
            return Ok(());
        };
        let quantity = col("lineitem quantity").unwrap_or("1");
        let quantity: i64 = quantity.parse().map_err(|_| {
            RowError::new(
                line,
                Some("Lineitem quantity"),
                format!("{quantity:?} is not a whole number"),
            )
        })?;
        let money = |field: &str| -> Result<i64, RowError> {
            col(&field.to_lowercase())
                .map(|v| Money::parse_major(v, order.currency).map(|m| m.minor))
                .transpose()
                .map(Option::unwrap_or_default)
                .map_err(|e| RowError::from_field(line, e.at(field)))
        };
        let line_item = LineItemInput {
            external_id: None,
            product_external_id: None,
            variant_external_id: None,
            sku: col("lineitem sku").map(str::to_string),
            title: title.to_string(),
            quantity,
            unit_price: money("Lineitem price")?,
            discount: money("Lineitem discount")?,
        };
        order.line_items.push(line_item);
        Ok(())
    }

    /// Takes a row into the order being assembled; returns the previous order when this row
    /// starts a new one.
    fn take_row(
        &mut self,
        h: &Header,
        line: u64,
        r: csv::StringRecord,
    ) -> Option<Result<Parsed<OrderInput>, RowError>> {
        let name = cell(&r, h.find(&["name"])).unwrap_or_default().to_string();
        if name.is_empty() {
            return Some(Err(RowError::new(
                line,
                Some("Name"),
                "the row has no order Name",
            )));
        }
        if let Some((current, _, state)) = &mut self.current {
            if *current == name {
                if let Ok(order) = state {
                    let mut order = std::mem::replace(order, placeholder());
                    let added = self.add_line(h, line, &r, &mut order);
                    let (_, _, state) = self.current.as_mut().expect("present");
                    *state = added.map(|()| order);
                }
                return None;
            }
        }
        let state = self
            .first_row(h, line, &r)
            .and_then(|mut o| self.add_line(h, line, &r, &mut o).map(|()| o));
        self.current.replace((name, line, state)).map(finish)
    }
}

fn placeholder() -> OrderInput {
    OrderInput {
        source: Source::Shopify,
        external_id: String::new(),
        order_number: None,
        customer: None,
        placed_at: Timestamp(0),
        source_updated_at: None,
        currency: Currency::USD,
        subtotal: 0,
        discount_total: 0,
        shipping_total: 0,
        tax_total: 0,
        total: 0,
        financial_status: FinancialStatus::Pending,
        cancelled_at: None,
        line_items: vec![],
        discount_codes: vec![],
        refunds: vec![],
        marketplace: None,
        buyer_accepts_marketing: None,
        note: None,
        signals: Default::default(),
    }
}

fn finish(
    (_, line, state): (String, u64, Result<OrderInput, RowError>),
) -> Result<Parsed<OrderInput>, RowError> {
    state.map(|value| Parsed { line, value })
}

impl<R: Read> Iterator for ShopifyOrdersReader<R> {
    type Item = Result<Parsed<OrderInput>, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let Some(next) = self.records.next() else {
                return self.current.take().map(finish);
            };
            let (line, record) = match next {
                Ok(r) => r,
                Err(e) => return Some(Err(e)),
            };
            let Some(header) = self.header.take() else {
                let header = Header::new(&record);
                if header.find(&["name"]).is_none() || header.find(&["lineitem name"]).is_none() {
                    return Some(Err(RowError::new(
                        line,
                        None,
                        "this is not a Shopify orders export: no Name or Lineitem name column",
                    )));
                }
                self.header = Some(header);
                continue;
            };
            let out = self.take_row(&header, line, record);
            self.header = Some(header);
            if out.is_some() {
                return out;
            }
        }
    }
}

/// A column by header name or 0-based number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnRef {
    Name(String),
    Index(usize),
}

impl ColumnRef {
    pub fn parse(s: &str) -> ColumnRef {
        match s.trim().parse::<usize>() {
            Ok(i) => ColumnRef::Index(i),
            Err(_) => ColumnRef::Name(s.trim().to_string()),
        }
    }

    fn describe(&self) -> String {
        match self {
            ColumnRef::Name(n) => n.clone(),
            ColumnRef::Index(i) => format!("column {i}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delimiter {
    Byte(u8),
    /// Runs of spaces and tabs, as in the CDNOW file (`00001 19970101 1 11.77`).
    Whitespace,
}

#[derive(Debug, Clone)]
pub struct TransactionOptions {
    pub customer_col: ColumnRef,
    pub date_col: ColumnRef,
    pub amount_col: ColumnRef,
    /// Rows of one order must be consecutive; without this column each row is an order.
    pub order_col: Option<ColumnRef>,
    pub currency: Currency,
    /// strftime, e.g. `%Y%m%d`; default: ISO dates and the usual date-time forms.
    pub date_format: Option<String>,
    pub delimiter: Delimiter,
    pub has_header: bool,
    /// The zone dates without an offset are read in.
    pub zone: chrono_tz::Tz,
}

/// One purchase from a transaction log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    pub customer_external_id: String,
    pub order_external_id: String,
    pub placed_at: Timestamp,
    pub amount_minor: i64,
}

impl Transaction {
    pub fn into_order(self, currency: Currency) -> OrderInput {
        OrderInput {
            source: Source::Transactions,
            external_id: self.order_external_id,
            order_number: None,
            customer: Some(CustomerInput {
                source: Some(Source::Transactions),
                external_id: Some(self.customer_external_id),
                ..Default::default()
            }),
            placed_at: self.placed_at,
            source_updated_at: None,
            currency,
            subtotal: self.amount_minor,
            discount_total: 0,
            shipping_total: 0,
            tax_total: 0,
            total: self.amount_minor,
            financial_status: FinancialStatus::Paid,
            cancelled_at: None,
            line_items: vec![],
            discount_codes: vec![],
            refunds: vec![],
            marketplace: None,
            buyer_accepts_marketing: None,
            note: None,
            signals: Default::default(),
        }
    }
}

enum Rows<R: Read> {
    Csv(Records<R>),
    Whitespace {
        lines: std::io::Lines<BufReader<R>>,
        line: u64,
    },
}

impl<R: Read> Rows<R> {
    fn next_row(&mut self) -> Option<Result<(u64, Vec<String>), RowError>> {
        match self {
            Rows::Csv(records) => records
                .next()
                .map(|r| r.map(|(line, rec)| (line, rec.iter().map(str::to_string).collect()))),
            Rows::Whitespace { lines, line } => loop {
                *line += 1;
                match lines.next()? {
                    Ok(text) if text.trim().is_empty() => continue,
                    Ok(text) => {
                        return Some(Ok((*line, text.split_whitespace().map(str::to_string).collect())))
                    }
                    Err(e) => return Some(Err(RowError::new(*line, None, format!("unreadable line: {e}")))),
                }
            },
        }
    }
}

pub struct TransactionsReader<R: Read> {
    rows: Rows<R>,
    options: TransactionOptions,
    columns: [usize; 3],
    order_column: Option<usize>,
    /// How often each row content has been seen on the current date. Identical rows (same
    /// customer, date and amount) are distinct purchases: the n-th of them gets an id derived
    /// from the content and n, stable across re-imports. Logs run in date order, so the map
    /// holds one day's rows and is cleared when the date changes.
    seen_today: (String, HashMap<String, u32>),
    /// With an order column: the order being summed from consecutive rows.
    pending: Option<Parsed<Transaction>>,
}

impl<R: Read> TransactionsReader<R> {
    /// Fails when a named column is not in the header, listing the columns there are.
    pub fn new(input: R, options: TransactionOptions) -> Result<Self, FieldError> {
        let mut rows = match options.delimiter {
            Delimiter::Byte(b) => Rows::Csv(Records::new(input, b)),
            Delimiter::Whitespace => Rows::Whitespace {
                lines: BufReader::new(input).lines(),
                line: 0,
            },
        };
        let header: Option<Vec<String>> = if options.has_header {
            match rows.next_row() {
                Some(Ok((_, h))) => Some(
                    h.iter()
                        .map(|s| s.trim().trim_start_matches('\u{feff}').to_string())
                        .collect(),
                ),
                Some(Err(e)) => return Err(FieldError::new("header", "invalid_header", e.to_string())),
                None => return Err(FieldError::new("header", "empty_file", "the file is empty")),
            }
        } else {
            None
        };
        let resolve = |flag: &str, col: &ColumnRef| -> Result<usize, FieldError> {
            match (col, &header) {
                (ColumnRef::Index(i), _) => Ok(*i),
                (ColumnRef::Name(n), Some(h)) => {
                    h.iter().position(|x| x.eq_ignore_ascii_case(n)).ok_or_else(|| {
                        FieldError::new(
                            flag,
                            "unknown_column",
                            format!("no column {n:?}; the header has: {}", h.join(", ")),
                        )
                    })
                }
                (ColumnRef::Name(n), None) => Err(FieldError::new(
                    flag,
                    "unknown_column",
                    format!("column {n:?} is named, but the file has no header: number the columns from 0"),
                )),
            }
        };
        let columns = [
            resolve("customer-col", &options.customer_col)?,
            resolve("date-col", &options.date_col)?,
            resolve("amount-col", &options.amount_col)?,
        ];
        let order_column = options
            .order_col
            .as_ref()
            .map(|c| resolve("order-col", c))
            .transpose()?;
        Ok(TransactionsReader {
            rows,
            options,
            columns,
            order_column,
            seen_today: (String::new(), HashMap::new()),
            pending: None,
        })
    }

    fn parse_date(&self, raw: &str) -> Result<Timestamp, FieldError> {
        let Some(format) = &self.options.date_format else {
            return Timestamp::parse_flexible(raw, self.options.zone);
        };
        let bad = || {
            FieldError::new(
                "",
                "invalid_date",
                format!("{raw:?} does not match the date format {format:?}"),
            )
        };
        if let Ok(dt) = chrono::DateTime::parse_from_str(raw, format) {
            return Ok(Timestamp::from_datetime(&dt));
        }
        let naive = NaiveDateTime::parse_from_str(raw, format)
            .or_else(|_| {
                NaiveDate::parse_from_str(raw, format).map(|d| d.and_hms_opt(0, 0, 0).expect("midnight"))
            })
            .map_err(|_| bad())?;
        Timestamp::from_local(naive, self.options.zone, raw)
    }

    fn transaction(&mut self, line: u64, row: &[String]) -> Result<Transaction, RowError> {
        let get = |i: usize, col: &ColumnRef| -> Result<&str, RowError> {
            row.get(i)
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    RowError::new(
                        line,
                        Some(&col.describe()),
                        format!("{} is empty or missing", col.describe()),
                    )
                })
        };
        let o = &self.options;
        let customer = get(self.columns[0], &o.customer_col)?.to_string();
        let date_raw = get(self.columns[1], &o.date_col)?;
        let amount_raw = get(self.columns[2], &o.amount_col)?;
        let placed_at = self
            .parse_date(date_raw)
            .map_err(|e| RowError::new(line, Some(&o.date_col.describe()), e.message))?;
        let cleaned = if o.delimiter == Delimiter::Byte(b',') {
            amount_raw.to_string()
        } else {
            amount_raw.replace(',', "")
        };
        if cleaned.starts_with('-') {
            return Err(RowError::new(
                line,
                Some(&o.amount_col.describe()),
                format!("{amount_raw:?} is negative: refunds are not read from transaction logs"),
            ));
        }
        let amount_minor = Money::parse_major(&cleaned, o.currency)
            .map_err(|e| RowError::new(line, Some(&o.amount_col.describe()), e.message))?
            .minor;
        let order_external_id = match self.order_column {
            Some(i) => get(i, o.order_col.as_ref().expect("set with the column"))?.to_string(),
            None => {
                let content = format!("{customer}|{date_raw}|{amount_raw}");
                let (date, seen) = &mut self.seen_today;
                if date != date_raw {
                    date_raw.clone_into(date);
                    seen.clear();
                }
                let count = seen.entry(content.clone()).or_insert(0);
                let n = *count;
                *count += 1;
                let digest = Sha256::digest(format!("{content}|{n}").as_bytes());
                format!(
                    "t-{}",
                    digest[..10]
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect::<String>()
                )
            }
        };
        Ok(Transaction {
            customer_external_id: customer,
            order_external_id,
            placed_at,
            amount_minor,
        })
    }
}

impl<R: Read> Iterator for TransactionsReader<R> {
    type Item = Result<Parsed<Transaction>, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let Some(row) = self.rows.next_row() else {
                return self.pending.take().map(Ok);
            };
            let parsed =
                row.and_then(|(line, row)| self.transaction(line, &row).map(|value| Parsed { line, value }));
            let parsed = match parsed {
                Ok(p) => p,
                Err(e) => return Some(Err(e)),
            };
            if self.order_column.is_none() {
                return Some(Ok(parsed));
            }
            // Consecutive rows of one order add up to one purchase.
            match &mut self.pending {
                Some(p) if p.value.order_external_id == parsed.value.order_external_id => {
                    p.value.amount_minor += parsed.value.amount_minor;
                }
                _ => {
                    if let Some(done) = self.pending.replace(parsed) {
                        return Some(Ok(done));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(path: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/../../../shared/fixtures/{path}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    fn header_lines() -> Vec<String> {
        fixture("shopify_csv/HEADERS.txt")
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn the_real_truncated_export_yields_three_customers_and_a_truncation() {
        let text = fixture("shopify_csv/customers_export.real-store.REDACTED.csv");
        let rows: Vec<_> =
            ShopifyCustomersReader::new(text.as_bytes(), Currency::parse("PKR").unwrap()).collect();
        assert_eq!(rows.len(), 4);
        let ok: Vec<_> = rows.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(ok.len(), 3);
        assert_eq!(ok[0].line, 2);
        let first = &ok[0].value;
        assert_eq!(
            first.external_id.as_deref(),
            Some("7000000000001"),
            "the leading ' is dropped"
        );
        assert_eq!(first.phone.as_ref().unwrap().as_str(), "+923000000000");
        assert_eq!(first.email, None);
        assert_eq!(
            first.attributes["shopify_total_spent"],
            serde_json::json!(1_317_500)
        );
        assert_eq!(
            ok[1].value.tags.as_ref().unwrap(),
            &vec!["Bronze VIP".to_string(), "loyal-app_new".to_string()]
        );
        let err = rows[3].as_ref().unwrap_err();
        assert_eq!(err.line, 5 + 1 - 1, "the record starts on line 5");
        assert!(err.reason.contains("truncated"), "{}", err.reason);
    }

    #[test]
    fn every_customer_header_generation_reads() {
        for header in header_lines()
            .iter()
            .filter(|h| h.contains("Email") && !h.starts_with("Name,"))
        {
            let columns: Vec<&str> = header.split(',').collect();
            let row: Vec<String> = columns
                .iter()
                .map(|c| match *c {
                    "Email" => "asha@example.com".to_string(),
                    "First Name" => "Asha".to_string(),
                    "Accepts Email Marketing" | "Accepts Marketing" => "yes".to_string(),
                    "Phone" => "'+91 98480 22338".to_string(),
                    "Customer ID" => "'123".to_string(),
                    "Total Spent" => "10.50".to_string(),
                    _ => String::new(),
                })
                .collect();
            let text = format!(
                "{header},Accepts WhatsApp Marketing,Shoe size (customer.metafields.custom.size)\n{},no,42\n",
                row.join(",")
            );
            let parsed: Vec<_> = ShopifyCustomersReader::new(text.as_bytes(), Currency::INR).collect();
            let c = &parsed[0]
                .as_ref()
                .unwrap_or_else(|e| panic!("{header}: {e}"))
                .value;
            assert_eq!(c.email.as_ref().unwrap().as_str(), "asha@example.com", "{header}");
            assert_eq!(c.phone.as_ref().unwrap().as_str(), "+919848022338");
            assert!(
                c.consents
                    .iter()
                    .any(|x| x.channel == ConsentChannel::Email && x.granted),
                "{header}"
            );
            assert!(c
                .consents
                .iter()
                .any(|x| x.channel == ConsentChannel::Whatsapp && !x.granted));
            assert_eq!(
                c.attributes["Shoe size (customer.metafields.custom.size)"],
                serde_json::json!("42")
            );
        }
    }

    #[test]
    fn bad_customer_rows_are_reported_and_reading_goes_on() {
        let text =
            "Email,Phone,First Name\nnot-an-email,,A\n,,B\nok@example.com,,C\nx@example.com,12,D,extra\n";
        let rows: Vec<_> = ShopifyCustomersReader::new(text.as_bytes(), Currency::INR).collect();
        assert_eq!(rows[0].as_ref().unwrap_err().field.as_deref(), Some("Email"));
        assert_eq!(rows[0].as_ref().unwrap_err().line, 2);
        assert_eq!(rows[1].as_ref().unwrap_err().line, 3);
        assert_eq!(rows[2].as_ref().unwrap().value.first_name.as_deref(), Some("C"));
        assert!(rows[3].as_ref().unwrap_err().reason.contains("expected 3 fields"));
    }

    fn orders_header() -> String {
        header_lines()
            .into_iter()
            .find(|h| h.starts_with("Name,Email,Financial Status"))
            .unwrap()
    }

    fn order_row(header: &str, values: &[(&str, &str)]) -> String {
        header
            .split(',')
            .map(|c| {
                values
                    .iter()
                    .find(|(k, _)| *k == c)
                    .map(|(_, v)| v.to_string())
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    #[test]
    fn an_order_spans_rows() {
        let h = orders_header();
        let text = [
            h.clone(),
            order_row(
                &h,
                &[
                    ("Name", "#1001"),
                    ("Email", "a@example.com"),
                    ("Financial Status", "partially_refunded"),
                    ("Currency", "INR"),
                    ("Subtotal", "30.00"),
                    ("Total", "35.00"),
                    ("Shipping", "5.00"),
                    ("Created at", "2025-03-20 05:20:57 -0700"),
                    ("Lineitem quantity", "1"),
                    ("Lineitem name", "Tea"),
                    ("Lineitem price", "10.00"),
                    ("Refunded Amount", "5.00"),
                    ("Billing Name", "Asha Rao"),
                    ("Id", "55501"),
                ],
            ),
            order_row(
                &h,
                &[
                    ("Name", "#1001"),
                    ("Lineitem quantity", "2"),
                    ("Lineitem name", "Cup"),
                    ("Lineitem price", "10.00"),
                ],
            ),
            order_row(
                &h,
                &[
                    ("Name", "#1002"),
                    ("Currency", "INR"),
                    ("Total", "1.00"),
                    ("Created at", "bad date"),
                    ("Lineitem name", "X"),
                    ("Lineitem price", "1.00"),
                ],
            ),
            order_row(
                &h,
                &[
                    ("Name", "#1003"),
                    ("Currency", "INR"),
                    ("Total", "1.00"),
                    ("Created at", "2025-03-21 10:00:00 +0530"),
                    ("Lineitem name", "X"),
                    ("Lineitem price", "1.00"),
                ],
            ),
        ]
        .join("\n");
        let rows: Vec<_> = ShopifyOrdersReader::new(text.as_bytes(), chrono_tz::UTC).collect();
        assert_eq!(rows.len(), 3);
        let first = &rows[0].as_ref().unwrap();
        assert_eq!(first.line, 2);
        let o = &first.value;
        assert_eq!(o.external_id, "55501");
        assert_eq!(o.line_items.len(), 2);
        assert_eq!(o.line_items[1].quantity, 2);
        assert_eq!(
            o.placed_at,
            Timestamp::parse_rfc3339("2025-03-20T12:20:57Z").unwrap()
        );
        assert_eq!(o.refunds[0].amount, 500);
        assert_eq!(o.customer.as_ref().unwrap().last_name.as_deref(), Some("Rao"));
        assert!(o.validate().is_ok());
        let bad = rows[1].as_ref().unwrap_err();
        assert_eq!((bad.line, bad.field.as_deref()), (4, Some("Created at")));
        assert_eq!(rows[2].as_ref().unwrap().value.external_id, "#1003");
    }

    #[test]
    fn orders_carry_their_shipping_address() {
        let h = orders_header();
        let row = |name: &str, extra: &[(&str, &str)]| {
            let mut values = vec![
                ("Name", name),
                ("Currency", "USD"),
                ("Total", "1.00"),
                ("Created at", "2025-03-21 10:00:00 -0700"),
                ("Lineitem name", "X"),
                ("Lineitem price", "1.00"),
            ];
            values.extend_from_slice(extra);
            order_row(&h, &values)
        };
        let text = [
            h.clone(),
            row(
                "#1",
                &[
                    ("Billing Address1", "1 Other Way"),
                    ("Billing Zip", "99999"),
                    ("Shipping Street", "\"Chestnut Street 92, Apt 4\""),
                    ("Shipping Address1", "Chestnut Street 92"),
                    ("Shipping Zip", "'02134"),
                    ("Shipping Country", "US"),
                ],
            ),
            row(
                "#2",
                &[
                    ("Billing Address1", "12 MG Road"),
                    ("Billing Zip", "560001"),
                    ("Billing Country", "IN"),
                ],
            ),
            row("#3", &[]),
        ]
        .join("\n");
        let signals: Vec<OrderSignals> = ShopifyOrdersReader::new(text.as_bytes(), chrono_tz::UTC)
            .map(|r| r.unwrap().value.signals)
            .collect();
        assert_eq!(
            signals,
            vec![
                OrderSignals {
                    shipping_address: Some("us|02134|chestnutstreet92".into()),
                    ..OrderSignals::default()
                },
                OrderSignals {
                    shipping_address: Some("in|560001|12mgroad".into()),
                    ..OrderSignals::default()
                },
                OrderSignals::default(),
            ]
        );
    }

    fn options(delimiter: Delimiter, has_header: bool, cols: [&str; 3]) -> TransactionOptions {
        TransactionOptions {
            customer_col: ColumnRef::parse(cols[0]),
            date_col: ColumnRef::parse(cols[1]),
            amount_col: ColumnRef::parse(cols[2]),
            order_col: None,
            currency: Currency::USD,
            date_format: None,
            delimiter,
            has_header,
            zone: chrono_tz::UTC,
        }
    }

    #[test]
    fn whitespace_logs_with_numbered_columns() {
        let text = "00001 19970101  1  11.77\n00002\t19970112 1 12.00\n\n00002 19970112 5 77.00\n00003 1997-13-01 1 1.00\n";
        let mut o = options(Delimiter::Whitespace, false, ["0", "1", "3"]);
        o.date_format = Some("%Y%m%d".into());
        let rows: Vec<_> = TransactionsReader::new(text.as_bytes(), o).unwrap().collect();
        assert_eq!(rows.len(), 4);
        let t = &rows[1].as_ref().unwrap().value;
        assert_eq!((t.customer_external_id.as_str(), t.amount_minor), ("00002", 1200));
        assert_eq!(
            t.placed_at,
            Timestamp::parse_rfc3339("1997-01-12T00:00:00Z").unwrap()
        );
        assert_eq!(rows[2].as_ref().unwrap().line, 4, "blank lines still count");
        assert_eq!(rows[3].as_ref().unwrap_err().line, 5);
    }

    #[test]
    fn order_ids_are_stable_and_identical_rows_stay_distinct() {
        // c1 buys the same thing three times on 1 January, once with c3's purchase in between.
        let text = "customer,date,amount\nc1,2024-01-01,10.00\nc1,2024-01-01,10.00\nc3,2024-01-01,4.00\nc1,2024-01-01,10.00\nc2,2024-01-02,1.50\n";
        let read = || -> Vec<String> {
            TransactionsReader::new(
                text.as_bytes(),
                options(Delimiter::Byte(b','), true, ["customer", "date", "amount"]),
            )
            .unwrap()
            .map(|r| r.unwrap().value.order_external_id)
            .collect()
        };
        let first = read();
        assert_eq!(first, read());
        let distinct: std::collections::HashSet<&String> = first.iter().collect();
        assert_eq!(
            distinct.len(),
            5,
            "every purchase keeps an id of its own: {first:?}"
        );
        let err = TransactionsReader::new(
            text.as_bytes(),
            options(Delimiter::Byte(b','), true, ["client", "date", "amount"]),
        )
        .err()
        .unwrap();
        assert!(err.message.contains("customer, date, amount"), "{}", err.message);
    }

    #[test]
    fn order_columns_sum_consecutive_rows() {
        let text = "o;c;d;a\n0;c0;2024-01-01;abc\n1;c1;2024-01-01;1,000.50\n1;c1;2024-01-01;2.00\n2;c2;2024-01-03;3\n";
        let mut o = options(Delimiter::Byte(b';'), true, ["c", "d", "a"]);
        o.order_col = Some(ColumnRef::parse("o"));
        let rows: Vec<_> = TransactionsReader::new(text.as_bytes(), o).unwrap().collect();
        // Commas are thousands separators when they do not delimit; errors name the column.
        assert_eq!(rows[0].as_ref().unwrap_err().field.as_deref(), Some("a"));
        let ok: Vec<_> = rows.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(
            ok.iter().map(|p| p.value.amount_minor).collect::<Vec<_>>(),
            vec![100_250, 300]
        );
    }

    proptest::proptest! {
        #[test]
        fn readers_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000)) {
            let _ = ShopifyCustomersReader::new(&bytes[..], Currency::INR).count();
            let _ = ShopifyOrdersReader::new(&bytes[..], chrono_tz::UTC).count();
            if let Ok(r) = TransactionsReader::new(&bytes[..], options(Delimiter::Whitespace, false, ["0", "1", "2"])) {
                let _ = r.count();
            }
        }
    }
}
